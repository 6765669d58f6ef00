/**
 * Starts the project's real S3 test server (`test/helpers/s3-server.mjs`: s3rver plus the S3
 * semantics it lacks) as a child process for the benchmark. Same launch as `test/helpers/with-s3.ts`,
 * which cannot be imported from compiled code because tsc does not copy the `.mjs` next to it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './free-port.js';

/** s3rver's fixed credentials; the archiver gets them through the SDK's env chain. */
export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3Server {
  endpoint: string;
  bucket: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startS3Server(script: string, dir: string, bucket: string): Promise<S3Server> {
  if (!existsSync(script)) throw new Error(`S3 test server not found at ${script}`);
  const port = await freePort();
  // stdin stays open: the server exits when it closes, so it dies with the bench even on SIGKILL.
  const child = spawn(process.execPath, [script, '--dir', dir, '--port', String(port), '--bucket', bucket], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`S3 server not ready within 15 s: ${output}`)), 15_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (output.includes(`READY ${port}`)) done();
    };
    const onExit = (): void => done(new Error(`S3 server exited on start: ${output.trim()}`));
    function done(error?: Error): void {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    }
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.once('exit', onExit);
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(force);
    },
  };
}
