import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { captureOutput, spawnChild, stopChild } from './children.js';
import { launchOnFreePort } from './free-port.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';

/** A real redis-server process for one test file. */
export interface RedisHandle {
  readonly url: string;
  readonly port: number;
  /** A new ioredis connection, closed by `stop()`. */
  client(): Redis;
  flushAll(): Promise<void>;
  /** Teardown: closes every client from `client()`, stops the server, removes its temp dir. */
  stop(): Promise<void>;
  /** Stops the server (SIGTERM, if running) and starts it again on the same port; data is gone (no persistence). */
  restart(): Promise<void>;
  /** SIGKILL, as a crash would; clients stay open and reconnect after `restart()`. */
  kill(): Promise<void>;
}

/** Starts redis-server on a free port without persistence, waiting until it answers PING. */
export async function startRedis(): Promise<RedisHandle> {
  const dir = makeTempDir('redis');
  const clients = new Set<Redis>();
  let child: ChildProcess | undefined;

  const launch = async (port: number): Promise<void> => {
    const proc = spawnChild(
      REDIS_SERVER,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--daemonize',
        'no',
        '--protected-mode',
        'no',
        '--loglevel',
        'warning',
      ],
      { cwd: dir },
    );
    const output = captureOutput(proc);
    child = proc;
    await waitForPing(port, proc, output);
  };

  const port = await launchOnFreePort(launch, async (final) => {
    if (child) await stopChild(child, 'SIGKILL');
    if (final) removeTempDir(dir);
  });

  const halt = async (): Promise<void> => {
    if (child) await stopChild(child, 'SIGTERM');
  };
  const handle: RedisHandle = {
    url: `redis://127.0.0.1:${port}`,
    port,
    client() {
      const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 3, lazyConnect: false });
      // Outage tests stop the server under live clients; errors are expected and reported to the caller's commands.
      client.on('error', () => undefined);
      clients.add(client);
      return client;
    },
    async flushAll() {
      const admin = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
      try {
        await admin.flushall();
      } finally {
        admin.disconnect();
      }
    },
    async restart() {
      await halt();
      mkdirSync(dir, { recursive: true });
      await launch(port);
    },
    async kill() {
      if (child) await stopChild(child, 'SIGKILL');
    },
    async stop() {
      for (const client of clients) client.disconnect();
      clients.clear();
      await halt();
      removeTempDir(dir);
    },
  };
  return handle;
}

/** Runs `fn` with a fresh redis-server, always stopping it afterwards. */
export async function withRedis<T>(fn: (redis: RedisHandle) => Promise<T>): Promise<T> {
  const redis = await startRedis();
  try {
    return await fn(redis);
  } finally {
    await redis.stop();
  }
}

async function waitForPing(port: number, proc: ChildProcess, output: () => string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`redis-server exited on start (port ${port}): ${output().trim()}`);
    }
    if (await ping(port)) return;
    await sleep(15);
  }
  throw new Error(`redis-server did not answer PING on port ${port} within ${timeoutMs} ms: ${output().trim()}`);
}

async function ping(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}
