import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../src/config/index.js';
import { ConfigError } from '../src/errors/index.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const SECRET = 'sk-"quoted": {not: yaml} # ${NOT_A_VAR} \\ end';

async function problems(path: string): Promise<string[]> {
  try {
    await loadConfig(path, {});
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('config was accepted');
}

describe('${file:PATH} secrets (Kubernetes Secret volumes, Docker secrets)', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir('secret-files');
    mkdirSync(join(dir, 'secrets'));
    // As `kubectl create secret` or `echo … > file` leave them: with and without a final newline.
    writeFileSync(join(dir, 'secrets', 'access-key-id'), 'LTAI-from-file\n');
    writeFileSync(join(dir, 'secrets', 'access-key-secret'), SECRET);
    writeFileSync(join(dir, 'secrets', 'redis-url'), 'redis://10.0.0.5:6379\r\n');
    writeFileSync(join(dir, 'secrets', 'bad-url'), 'not-a-url-but-a-secret-value');
    writeFileSync(join(dir, 'secrets', 'huge'), Buffer.alloc(1024 * 1024 + 1, 'a'));
  });
  afterAll(() => removeTempDir(dir));

  it('replaces ${file:PATH} in any string field, absolute or relative to the config file, verbatim but for trailing newlines', async () => {
    const path = join(dir, 'config.yaml');
    writeFileSync(
      path,
      `
redis: { url: "\${file:secrets/redis-url}", prefix: "la-\${file:${join(dir, 'secrets', 'access-key-id')}}" }
storage: { kind: file, path: "${dir}/archive-\${file:./secrets/access-key-id}" }
sources:
  - id: oos
    provider: aliyun-oos-execution-logs
    endpoint: http://127.0.0.1:1
    credentials: { accessKeyId: "\${file:secrets/access-key-id}", accessKeySecret: "\${file:${join(dir, 'secrets', 'access-key-secret')}}" }
    params: { regionId: cn-hangzhou, executionIds: ["\${file:secrets/access-key-id}"] }
`,
    );
    const config = await loadConfig(path, {});
    expect(config.redis?.url).toBe('redis://10.0.0.5:6379');
    expect(config.redis?.prefix).toBe('la-LTAI-from-file');
    expect(config.storage).toMatchObject({ kind: 'file', path: `${dir}/archive-LTAI-from-file` });
    // The content is data: YAML metacharacters, quotes and a `${…}` inside it are kept as they are.
    expect(config.sources[0]!.credentials).toEqual({ accessKeyId: 'LTAI-from-file', accessKeySecret: SECRET });
    expect(config.sources[0]!.params).toMatchObject({ executionIds: ['LTAI-from-file'] });
  });

  it('reports a missing, unreadable or oversized file as a config error at its path, never printing any content', async () => {
    const path = join(dir, 'broken.yaml');
    writeFileSync(
      path,
      `
redis: { url: "\${file:secrets/bad-url}" }
storage: { kind: file, path: "\${file:/run/secrets/does-not-exist}" }
sources:
  - id: oos
    provider: aliyun-oos-execution-logs
    endpoint: http://127.0.0.1:1
    credentials: { accessKeyId: "\${file:secrets}", accessKeySecret: "\${file:secrets/huge}" }
    params: { regionId: cn-hangzhou, executionIds: [e] }
`,
    );
    const found = await problems(path);
    expect(found).toEqual(
      expect.arrayContaining([
        'storage.path: file /run/secrets/does-not-exist does not exist',
        `sources[0].credentials.accessKeyId: file ${join(dir, 'secrets')} cannot be read (EISDIR)`,
        `sources[0].credentials.accessKeySecret: file ${join(dir, 'secrets', 'huge')} is larger than 1 MiB; expected a secret or certificate`,
        expect.stringMatching(/^redis\.url: expected a redis:\/\/ or rediss:\/\/ URL/),
      ]),
    );
    const text = found.join('\n');
    expect(text).not.toContain('not-a-url-but-a-secret-value');
    expect(text).not.toContain('aaaa');
  });

  it('resolves relative paths from the working directory when the config is given as text', () => {
    const config = parseConfig(
      `
storage: { kind: file, path: "\${file:secrets/access-key-id}" }
sources:
  - { id: a, provider: aliyun-oos-execution-logs, endpoint: "http://127.0.0.1:1", credentials: { accessKeyId: x, accessKeySecret: y }, params: { regionId: r, executionIds: [e] } }
`,
      {},
      'inline',
      dir,
    );
    expect(config.storage).toMatchObject({ path: 'LTAI-from-file' });
  });
});
