import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { ConfigIssue } from '../errors/index.js';

const PATTERN = /\$\{(?:file:([^}]+)|([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?)\}/g;

/** A secret file is a key, a password or a certificate chain, never more than this. */
const MAX_FILE_BYTES = 1024 * 1024;

export interface InterpolateOptions {
  /** Directory that relative `${file:PATH}` paths start from (the config file's). @defaultValue process.cwd() */
  baseDir?: string;
  path?: string[];
  /**
   * Collects the paths (`worker.metricsPort`) of strings that were one reference and nothing else
   * (`${METRICS_PORT:-9464}`): the schema may read those as a number or a boolean.
   */
  wholeValues?: Set<string>;
}

/** A whole-string reference: its value may take the type the schema expects (number, boolean). */
const WHOLE = /^\$\{(?:file:[^}]+|[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?)\}$/;

/**
 * Replaces `${VAR}`, `${VAR:-default}` and `${file:PATH}` in every string of a parsed YAML tree.
 * Done after parsing, so a secret full of YAML metacharacters cannot change the document's
 * structure, and a replacement is never scanned again (a secret containing `${` stays as it is).
 * Unset variables without a default and unreadable files become issues; values are never echoed.
 */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, issues: ConfigIssue[], options: InterpolateOptions = {}): unknown {
  const path = options.path ?? [];
  if (typeof value === 'string') {
    if (WHOLE.test(value)) options.wholeValues?.add(formatPath(path));
    return value.replace(PATTERN, (_match, file: string | undefined, name: string | undefined, fallback: string | undefined) => {
      if (file !== undefined) return readSecretFile(file, options.baseDir ?? process.cwd(), path, issues);
      const found = env[name!];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      issues.push({ path: formatPath(path), message: `environment variable ${name} is not set` });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolateEnv(item, env, issues, { ...options, path: [...path, String(i)] }));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = interpolateEnv(item, env, issues, { ...options, path: [...path, key] });
    return out;
  }
  return value;
}

/**
 * A mounted secret's content (Kubernetes Secret volume, Docker secret), without the trailing
 * newline(s) that `echo` or an editor leave, as shell `$(cat file)` would read it.
 */
function readSecretFile(file: string, baseDir: string, path: string[], issues: ConfigIssue[]): string {
  const full = isAbsolute(file) ? file : resolve(baseDir, file);
  try {
    const size = statSync(full).size;
    if (size > MAX_FILE_BYTES) {
      issues.push({ path: formatPath(path), message: `file ${full} is larger than 1 MiB; expected a secret or certificate` });
      return '';
    }
    return readFileSync(full, 'utf8').replace(/(\r?\n)+$/, '');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable (permission denied)' : `cannot be read (${code})`;
    issues.push({ path: formatPath(path), message: `file ${full} ${why}` });
    return '';
  }
}

/** `['sources', '2', 'params', 'runIds']` → `sources[2].params.runIds`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number' || /^\d+$/.test(part)) out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out || '(root)';
}
