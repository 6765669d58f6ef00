import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const RUNTIME = fileURLToPath(new URL('../dist/src/runtime.js', import.meta.url));

// What a drain loads stays live for the whole process, and every full GC marks it again.
describe('modules a drain loads', () => {
  it("do not include Node's bundled undici (an ES import of node:http would load it: about 2 MB of heap)", () => {
    const script = `await import(${JSON.stringify(RUNTIME)}); console.log(JSON.stringify(process.moduleLoadList.filter((m) => /undici/.test(m))));`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([]);
  });
});
