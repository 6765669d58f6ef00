import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const created = new Set<string>();
let hooked = false;

/** A fresh directory under the OS temp dir; removed by `removeTempDir` or at process exit. */
export function makeTempDir(label = 'log-archiver-test'): string {
  const dir = mkdtempSync(join(tmpdir(), `${label}-`));
  created.add(dir);
  if (!hooked) {
    hooked = true;
    // Synchronous on purpose: 'exit' handlers cannot await.
    process.on('exit', () => {
      for (const d of created) rmSync(d, { recursive: true, force: true });
    });
  }
  return dir;
}

/** Removes a directory made by `makeTempDir` (missing is fine). */
export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  created.delete(dir);
}
