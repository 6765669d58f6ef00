import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { CLI } from './helpers/cli.js';
import { EXAMPLE_ENV } from './helpers/example-env.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const ROOT = join(import.meta.dirname, '..');

interface Example {
  /** The `<!-- example: … -->` mark before the block: how to treat it. */
  mark: string;
  lang: string;
  body: string;
  line: number;
}

/** Every fenced block of README.md with the mark above it (empty when unmarked). */
function examples(): Example[] {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
  const found: Example[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const open = /^```(\w*)$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.indexOf('```', i + 1);
    const mark = /^<!-- example: (.+) -->$/.exec(lines[i - 1] ?? '')?.[1] ?? '';
    found.push({ mark, lang: open[1]!, body: lines.slice(i + 1, end).join('\n'), line: i + 1 });
    i = end;
  }
  return found;
}

/**
 * The README's examples work as copied. Each block carries a mark: `run` blocks run in order in a
 * scratch directory (`npx log-archiver` is the built CLI, `npm ci` is already done), configs are
 * validated (`config examples/x.yaml` ones must also be that file), and blocks that need
 * something this machine does not have (`needs docker`, `needs your config`…) are parsed by bash
 * and the repository files they name must exist.
 */
describe('README examples', () => {
  const all = examples();
  const scratch = makeTempDir('readme');
  afterAll(() => removeTempDir(scratch));

  it('every shell, YAML and JSON block is marked', () => {
    expect(all.length).toBeGreaterThan(10);
    for (const example of all.filter((e) => ['sh', 'yaml', 'json', 'sql', 'text'].includes(e.lang))) {
      expect(example.mark, `README.md:${example.line} (${example.lang}) has no <!-- example: … --> mark`).not.toBe('');
    }
    expect(all.filter((e) => e.lang === '' || !['sh', 'yaml', 'json', 'sql', 'text'].includes(e.lang))).toEqual([]);
  });

  it('configs validate; the one taken from examples/ is that file', () => {
    const configs = all.filter((e) => e.mark.startsWith('config'));
    expect(configs.length).toBeGreaterThanOrEqual(2);
    for (const example of configs) {
      const from = example.mark.split(' ')[1];
      if (from) expect(`${example.body}\n`, `README.md:${example.line}`).toBe(readFileSync(join(ROOT, from), 'utf8'));
      expect(() => parseConfig(example.body, EXAMPLE_ENV, `README.md:${example.line}`), `README.md:${example.line}`).not.toThrow();
    }
  });

  it('the commands table names every command and every option the CLI has', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const help = (args: string[]): string => spawnSync(process.execPath, [CLI, ...args, '--help'], { encoding: 'utf8' }).stdout;
    const commands = [...help([]).matchAll(/^ {2}([a-z-]+) \[?/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    expect(commands.sort()).toEqual([
      'acknowledge',
      'demo',
      'export',
      'handover',
      'reconcile',
      'run-once',
      'status',
      'validate',
      'verify',
      'worker',
    ]);
    for (const command of commands) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`log-archiver ${command}`));
      expect(row, `README commands table has no row for ${command}`).toBeDefined();
      for (const option of help([command]).matchAll(/--([a-z-]+)/g)) {
        if (option[1] === 'help') continue;
        const spelled = option[1] === 'config' ? /-c config\.yaml/ : new RegExp(`--${option[1]}\\b`);
        expect(row, `README row of ${command} lacks --${option[1]}`).toMatch(spelled);
      }
    }
  });

  it('the envelope example is an envelope', () => {
    const [example] = all.filter((e) => e.mark === 'envelope');
    expect(Object.keys(JSON.parse(example!.body) as object)).toEqual(['source', 'provider', 'id', 'fetchedAt', 'context', 'record']);
  });

  it('the test command is the one .ci/run runs', () => {
    const [example] = all.filter((e) => e.mark === 'ci');
    expect(example!.body).toBe('bash tools/install-test-deps.sh && npm ci && npm test');
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
    // CI runs the same two steps: the shared installer, then npm ci && npm test.
    expect(ci).toContain('bash tools/install-test-deps.sh');
    expect(ci).toContain('npm ci && npm test');
    expect(existsSync(join(ROOT, 'tools/install-test-deps.sh'))).toBe(true);
  });

  it('blocks that need another system parse, and every repository file they name exists', () => {
    for (const example of all.filter((e) => e.mark.startsWith('needs') && e.lang === 'sh')) {
      const parsed = spawnSync('bash', ['-n', '-c', example.body], { encoding: 'utf8' });
      expect(parsed.status, `README.md:${example.line}: ${parsed.stderr}`).toBe(0);
      for (const path of example.body.match(/(?<=\s|=)(?:deploy|examples|docs)\/[\w./-]+/g) ?? []) {
        expect(existsSync(join(ROOT, path)), `README.md:${example.line} names ${path}`).toBe(true);
      }
    }
  });

  it('the quick start runs as copied: the demo, then looking at what it wrote', () => {
    // `npx log-archiver` of an installed clone is its built CLI; `npm ci` has run already.
    const bin = join(scratch, 'bin');
    const shim = (name: string, body: string): void => {
      writeFileSync(join(bin, name), `#!/usr/bin/env bash\n${body}\n`);
      chmodSync(join(bin, name), 0o755);
    };
    spawnSync('mkdir', ['-p', bin]);
    shim('npx', `[ "$1" = log-archiver ] || exit 97\nshift\nexec "${process.execPath}" "${CLI}" "$@"`);
    shim('npm', '[ "$*" = ci ] && exit 0\nexit 98');
    for (const name of ['examples', 'deploy']) symlinkSync(join(ROOT, name), join(scratch, name));
    for (const example of all.filter((e) => e.mark === 'run')) {
      const result = spawnSync('bash', ['-e', '-c', example.body], {
        cwd: scratch,
        encoding: 'utf8',
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, LOG_LEVEL: 'warn' },
        timeout: 120_000,
      });
      expect(result.status, `README.md:${example.line}\n${result.stdout}\n${result.stderr}`).toBe(0);
      expect(result.stdout.length, `README.md:${example.line} printed nothing`).toBeGreaterThan(0);
    }
    expect(existsSync(join(scratch, 'demo-archive', '.demo-config.yaml'))).toBe(true);
  });
});
