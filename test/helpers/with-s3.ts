import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore, type S3ObjectStoreOptions } from '../../src/storage/index.js';
import { captureOutput, spawnChild, stopChild } from './children.js';
import { launchOnFreePort } from './free-port.js';
import { getObjectOrUndefined, listAllKeys } from './s3-reads.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';

const SERVER_SCRIPT = fileURLToPath(new URL('./s3-server.mjs', import.meta.url));

/** s3rver's fixed credentials; signatures are checked against them. */
export const S3_TEST_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** A fault the test server injects; the first matching fault applies (see s3-server.mjs). */
export interface S3Fault {
  /** S3 operation name: PutObject, UploadPart, CompleteMultipartUpload, AbortMultipartUpload, GetObject, ... */
  op?: string;
  key?: string;
  partNumber?: number;
  /** S3 error code to answer with (status from s3rver's table). @defaultValue 'InternalError' (500) */
  code?: string;
  /** `reset` destroys the connection instead of answering. @defaultValue 'error' */
  action?: 'error' | 'reset';
  /** How many requests it applies to. @defaultValue unlimited */
  times?: number;
}

export interface S3ServerOptions {
  bucket?: string;
  /** Honour `If-None-Match: *` on writes; false mimics servers that ignore it. @defaultValue true */
  conditionalWrites?: boolean;
}

/** A real S3 server process (s3rver plus the extensions in s3-server.mjs) for one test file. */
export interface S3Handle {
  readonly endpoint: string;
  readonly bucket: string;
  readonly port: number;
  /** Raw client for checking what the server holds, bypassing the store under test. */
  readonly client: S3Client;
  /** A store on this server (closed by `close()`); options override the test defaults. */
  store(prefix?: string, options?: Partial<S3ObjectStoreOptions>): S3ObjectStore;
  /** Stops the server process; data stays for `start()`. */
  stop(): Promise<void>;
  /** Starts the server again on the same port and data directory. */
  start(): Promise<void>;
  /** SIGKILL, as a crash would; `start()` brings it back. */
  kill(): Promise<void>;
  /** Every key in the bucket, in list order. */
  listKeys(prefix?: string): Promise<string[]>;
  /** The bytes stored under a full bucket key (undefined when absent), read through the S3 API. */
  getObject(key: string): Promise<Buffer | undefined>;
  /** The stored user metadata (`x-amz-meta-*`) of a full bucket key. */
  getMetadata(key: string): Promise<Record<string, string> | undefined>;
  /** In-progress multipart uploads in the bucket. */
  listMultipartUploads(): Promise<{ key: string; uploadId: string }[]>;
  setFaults(faults: S3Fault[]): Promise<void>;
  clearFaults(): Promise<void>;
  /** Teardown: closes stores and clients, stops the server, removes the data directory. */
  close(): Promise<void>;
}

/** Starts the S3 test server on a free port with `bucket` created, waiting until it is ready. */
export async function startS3(options: S3ServerOptions = {}): Promise<S3Handle> {
  const bucket = options.bucket ?? 'archive-test';
  const dir = makeTempDir('s3');
  const stores = new Set<S3ObjectStore>();
  let child: ChildProcess | undefined;

  const launch = async (port: number): Promise<void> => {
    const args = [SERVER_SCRIPT, '--dir', dir, '--port', String(port), '--bucket', bucket];
    if (options.conditionalWrites === false) args.push('--no-conditional-writes');
    const proc = spawnChild(process.execPath, args);
    child = proc;
    await waitForReady(proc, port);
  };

  const port = await launchOnFreePort(launch, async (final) => {
    if (child) await stopChild(child, 'SIGKILL');
    if (final) removeTempDir(dir);
  });

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: S3_TEST_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
  });

  const control = async (method: 'POST' | 'DELETE', body?: string): Promise<void> => {
    const response = await fetch(`${endpoint}/__faults`, { method, ...(body !== undefined ? { body } : {}) });
    if (!response.ok) throw new Error(`fault control answered ${response.status}`);
    await response.arrayBuffer();
  };

  return {
    endpoint,
    bucket,
    port,
    client,
    store(prefix, overrides = {}) {
      const store = new S3ObjectStore({
        bucket,
        region: 'us-east-1',
        endpoint,
        forcePathStyle: true,
        credentials: S3_TEST_CREDENTIALS,
        ...(prefix !== undefined ? { prefix } : {}),
        ...overrides,
      });
      stores.add(store);
      return store;
    },
    async stop() {
      if (child) await stopChild(child, 'SIGTERM');
    },
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) return;
      await launch(port);
    },
    async kill() {
      if (child) await stopChild(child, 'SIGKILL');
    },
    listKeys: (prefix) => listAllKeys(client, bucket, prefix),
    getObject: async (key) => (await getObjectOrUndefined(client, bucket, key))?.body,
    getMetadata: async (key) => (await getObjectOrUndefined(client, bucket, key))?.metadata,
    async listMultipartUploads() {
      const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      return (out.Uploads ?? []).map((u) => ({ key: u.Key ?? '', uploadId: u.UploadId ?? '' }));
    },
    async setFaults(faults) {
      await control('POST', JSON.stringify(faults));
    },
    async clearFaults() {
      await control('DELETE');
    },
    async close() {
      for (const store of stores) await store.close().catch(() => undefined);
      stores.clear();
      client.destroy();
      if (child) await stopChild(child, 'SIGTERM');
      removeTempDir(dir);
    },
  };
}

/** Runs `fn` with a fresh S3 server, always stopping it afterwards. */
export async function withS3<T>(fn: (s3: S3Handle) => Promise<T>, options: S3ServerOptions = {}): Promise<T> {
  const s3 = await startS3(options);
  try {
    return await fn(s3);
  } finally {
    await s3.close();
  }
}

async function waitForReady(proc: ChildProcess, port: number, timeoutMs = 10_000): Promise<void> {
  const output = captureOutput(proc);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`S3 server not ready on port ${port} within ${timeoutMs} ms: ${output()}`)), timeoutMs);
    // captureOutput's listener runs first, so output() already holds this chunk (and any earlier).
    const onData = (): void => {
      if (output().includes(`READY ${port}`)) finish();
    };
    const onExit = (): void => finish(new Error(`S3 server exited on start (port ${port}): ${output().trim()}`));
    function finish(error?: Error): void {
      clearTimeout(timer);
      proc.stdout?.off('data', onData);
      proc.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    }
    proc.stdout?.on('data', onData);
    proc.once('exit', onExit);
  });
}
