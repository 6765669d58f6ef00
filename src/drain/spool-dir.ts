import { lstat, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from '../errors/index.js';

/**
 * The directory batches are spooled in: `LOG_ARCHIVER_SPOOL_DIR`, or by default
 * `<tmpdir>/log-archiver-<uid>/spool`, private to the user (mode 0700). Files in it are named by
 * process id, so processes of one user share it without touching each other's files; a
 * directory another user owns is refused rather than written into.
 */
export async function resolveSpoolDir(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const configured = env.LOG_ARCHIVER_SPOOL_DIR;
  const uid = process.getuid?.();
  const base = configured ? resolve(configured) : join(env.TMPDIR || tmpdir(), `log-archiver-${uid ?? 'user'}`);
  const dir = configured ? base : join(base, 'spool');
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw spoolProblem(dir, `cannot create it (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, cause);
  }
  for (const path of configured ? [dir] : [base, dir]) {
    const info = await lstat(path);
    if (!info.isDirectory()) throw spoolProblem(path, 'is not a directory (a symlink or a file is refused)');
    if (uid !== undefined && info.uid !== uid) throw spoolProblem(path, `belongs to another user (uid ${info.uid}); it is not used`);
  }
  return dir;
}

function spoolProblem(path: string, what: string, cause?: unknown): ConfigError {
  return new ConfigError(
    `spool directory ${path} ${what}`,
    [{ path: 'LOG_ARCHIVER_SPOOL_DIR', message: `${path} ${what}; set LOG_ARCHIVER_SPOOL_DIR to a directory of this user on local disk` }],
    cause,
  );
}
