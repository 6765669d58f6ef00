import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DIST = fileURLToPath(new URL('../dist/', import.meta.url));

/**
 * The npm packages a fresh Node process has loaded after running `script` (ES module code, with
 * `dist` the built tree's URL), by name. Runs the built code (`npm test` builds it first) in a
 * process of its own: what a module graph loads is only visible from a clean start.
 */
function packagesLoadedBy(script: string): string[] {
  const program = `
    import { registerHooks } from 'node:module';
    const seen = new Set();
    registerHooks({
      resolve(specifier, context, next) {
        const resolved = next(specifier, context);
        const name = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(resolved.url)?.[1];
        if (name) seen.add(name);
        return resolved;
      },
    });
    const dist = ${JSON.stringify(new URL(`file://${DIST}`).href)};
    ${script}
    process.stdout.write(JSON.stringify([...seen].sort()));
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8', timeout: 30_000 });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout) as string[];
}

// Loading a module costs memory for as long as the process lives (the AWS SDK alone is ~37 MB of
// RSS): what only some configurations use is loaded when one of them asks for it.
describe('modules are loaded when used', () => {
  it('a file-store drain and the CLI load neither the S3 SDK, ioredis, BullMQ, prom-client nor the dashboard', () => {
    const loaded = packagesLoadedBy(`
      const { createObjectStore } = await import(dist + 'src/storage/index.js');
      await import(dist + 'src/runtime.js');
      await import(dist + 'src/commands/index.js');
      await createObjectStore({ kind: 'file', path: '/nonexistent' }).close();
    `);
    expect(loaded).toContain('zod'); // the hook sees packages at all
    for (const heavy of ['@aws-sdk/client-s3', '@aws-sdk/lib-storage', 'ioredis', 'bullmq', 'prom-client', 'express', '@bull-board/api']) {
      expect(loaded).not.toContain(heavy);
    }
  });

  it('an S3 store loads the SDK when it is built, as the module an import of it gives (one copy, one set of classes)', () => {
    const loaded = packagesLoadedBy(`
      const { createObjectStore } = await import(dist + 'src/storage/index.js');
      const store = createObjectStore({ kind: 's3', bucket: 'b', region: 'us-east-1', endpoint: 'http://127.0.0.1:9' });
      const sdk = await import('@aws-sdk/client-s3');
      if (!(store.client instanceof sdk.S3Client)) throw new Error('the store built its client from another copy of the SDK');
      await store.close();
    `);
    expect(loaded).toContain('@aws-sdk/client-s3');
    expect(loaded).not.toContain('ioredis');
  });

  it('a Redis client loads ioredis when it is made', () => {
    const loaded = packagesLoadedBy(`
      const { createRedisClient } = await import(dist + 'src/redis/index.js');
      const { silentLogger } = await import(dist + 'src/observability/index.js');
      const { Redis } = await import('ioredis');
      const client = createRedisClient({ url: 'redis://127.0.0.1:9', prefix: 'la' }, { role: 'commands', logger: silentLogger() });
      if (!(client instanceof Redis)) throw new Error('the client comes from another copy of ioredis');
      client.disconnect();
    `);
    expect(loaded).toContain('ioredis');
    expect(loaded).not.toContain('@aws-sdk/client-s3');
  });
});
