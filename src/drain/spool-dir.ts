import { constants } from 'node:fs';
import { access, lstat, mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from '../errors/index.js';

/**
 * The directory batches are spooled in: `LOG_ARCHIVER_SPOOL_DIR`, or by default
 * `<tmpdir>/log-archiver-<uid>/spool`, private to the user (mode 0700; refused when another user
 * made it first). Files in it are named by process id, so processes share a directory without
 * touching each other's files, and the sweep removes only this user's.
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
  if (configured) {
    // A chosen directory may be shared or a mount (an emptyDir owned by root): it must only be
    // writable; the sweep never touches another user's files in it.
    const info = await stat(dir);
    if (!info.isDirectory()) throw spoolProblem(dir, 'is not a directory');
    await access(dir, constants.W_OK).catch((cause: unknown) => {
      throw spoolProblem(dir, 'is not writable by this user', cause);
    });
    return dir;
  }
  // The default's name is predictable in a shared /tmp: use it only if this user made it.
  for (const path of [base, dir]) {
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
