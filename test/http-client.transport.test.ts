import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderNetworkError, ProviderResponseError } from '../src/errors/index.js';
import { HttpClient } from '../src/http/index.js';
import { getInChild } from './helpers/child-http.js';
import { makeTestCa } from './helpers/test-ca.js';
import { makeTempDir } from './helpers/temp-dir.js';

// How a provider's endpoint misbehaves, by path.
const ROUTES: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/ok': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  },
  '/echo': (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, host: req.headers.host, length: req.headers['content-length'], body }));
    });
  },
  '/silent': () => undefined,
  // A byte every 50 ms: never idle for long, never done.
  '/trickle': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const timer = setInterval(() => res.write(' '), 50);
    res.on('close', () => clearInterval(timer));
  },
  '/short': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
    res.write('{"records":[');
    setTimeout(() => res.socket?.destroy(), 20);
  },
  '/declared-large': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(5 * 1024 * 1024) });
    res.write('{');
  },
  '/cookies': (_req, res) => {
    res.writeHead(200, [
      ['Content-Type', 'application/json'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
      ['X-Request-Id', 'r-1'],
    ]);
    res.end('{}');
  },
};

let server: Server;
let base: string;
const connections: Socket[] = [];

beforeAll(async () => {
  server = createServer((req, res) => (ROUTES[req.url?.split('?')[0] ?? ''] ?? ROUTES['/ok']!)(req, res));
  server.on('connection', (socket) => connections.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const get = (client: HttpClient, path: string, signal?: AbortSignal) =>
  client.send({ method: 'GET', url: new URL(path, base), headers: {}, ...(signal ? { signal } : {}) }, { provider: 'test' });

describe('HttpClient transport', () => {
  it('keeps one connection for calls made one after another', async () => {
    const client = new HttpClient();
    const before = connections.length;
    for (let i = 0; i < 5; i += 1) expect((await get(client, '/ok')).body).toBe('{"ok":true}');
    expect(connections.length - before).toBe(1);
    await client.close();
  });

  it('sends a body with its length and Host as the URL names it (what a signature covers)', async () => {
    const client = new HttpClient();
    const body = JSON.stringify({ q: '日志' });
    const response = await client.send({
      method: 'POST',
      url: new URL('/echo?x=1', base),
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(JSON.parse(response.body)).toEqual({
      method: 'POST',
      host: new URL(base).host,
      length: String(Buffer.byteLength(body)),
      body,
    });
    await client.close();
  });

  it('joins repeated headers and gives names in lower case', async () => {
    const client = new HttpClient();
    const response = await get(client, '/cookies');
    expect(response.headers['set-cookie']).toBe('a=1, b=2');
    expect(response.headers['x-request-id']).toBe('r-1');
    await client.close();
  });

  it('gives up on a server that never answers after the timeout, as a network error', async () => {
    const client = new HttpClient({ timeoutMs: 300 });
    const started = performance.now();
    const error = await get(client, '/silent').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderNetworkError);
    expect((error as Error).message).toMatch(/TIMEOUT/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(performance.now() - started).toBeLessThan(3000);
    await client.close();
  });

  it('gives up on a body that trickles in forever at twice the timeout', async () => {
    const client = new HttpClient({ timeoutMs: 300 });
    const started = performance.now();
    const error = await get(client, '/trickle').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderNetworkError);
    expect((error as Error).message).toMatch(/DEADLINE/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(590);
    await client.close();
  });

  it('refuses a body cut short by a closed connection instead of returning part of it', async () => {
    const client = new HttpClient();
    const error = await get(client, '/short').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderNetworkError);
    expect((error as Error).message).toMatch(/ECONNRESET/);
    await client.close();
  });

  it('refuses a declared body over the limit before reading it', async () => {
    const client = new HttpClient({ maxBodyBytes: 1024 * 1024 });
    const error = await get(client, '/declared-large').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderResponseError);
    expect((error as ProviderResponseError).statusCode).toBe(200);
    expect((error as Error).message).toMatch(/5242880 bytes exceeds the 1048576-byte limit/);
    await client.close();
  });

  it("rejects with the caller's reason when the caller aborts, and the next call still works", async () => {
    const client = new HttpClient({ timeoutMs: 5000 });
    const controller = new AbortController();
    const reason = new Error('shutting down');
    setTimeout(() => controller.abort(reason), 50);
    await expect(get(client, '/silent', controller.signal)).rejects.toBe(reason);
    expect((await get(client, '/ok')).statusCode).toBe(200);
    await client.close();
  });

  it('rejects at once with the reason of a signal aborted before the call, and sends nothing', async () => {
    const client = new HttpClient();
    const before = connections.length;
    const reason = new Error('lease lost');
    await expect(get(client, '/ok', AbortSignal.abort(reason))).rejects.toBe(reason);
    // Still nothing a moment later: no request was begun and destroyed behind the caller's back.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(connections.length).toBe(before);
    await client.close();
  });

  it('a caller aborting while the connection is still being made does not crash the process', async () => {
    const client = new HttpClient();
    for (let i = 0; i < 20; i += 1) {
      const controller = new AbortController();
      const call = get(client, '/ok', controller.signal);
      controller.abort(new Error(`stop ${i}`));
      await expect(call).rejects.toThrow(`stop ${i}`);
    }
    expect((await get(client, '/ok')).statusCode).toBe(200);
    await client.close();
  });

  it('names a refused connection as such', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const client = new HttpClient();
    const error = await client.send({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/`), headers: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderNetworkError);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    await client.close();
  });
});

describe('HttpClient over TLS', () => {
  const dir = makeTempDir('http-tls');
  const ca = makeTestCa(dir);
  let tls: ReturnType<typeof createTlsServer>;
  let tlsBase: string;

  beforeAll(async () => {
    tls = createTlsServer({ cert: readFileSync(ca.serverCertPath), key: readFileSync(ca.serverKeyPath) }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"tls":true}');
    });
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    tlsBase = `https://localhost:${(tls.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    tls.closeAllConnections();
    await new Promise<void>((resolve) => tls.close(() => resolve()));
  });

  it('refuses a certificate no trusted authority signed', async () => {
    const client = new HttpClient();
    const error = await client.send({ method: 'GET', url: new URL('/', tlsBase), headers: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderNetworkError);
    expect((error as Error).message).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
    await client.close();
  });

  it('trusts an authority named by NODE_EXTRA_CA_CERTS (a private CA or an inspecting proxy)', async () => {
    const stdout = await getInChild(new URL('/', tlsBase).href, { NODE_EXTRA_CA_CERTS: ca.caPath });
    expect(stdout).toBe('{"tls":true}');
  });
});
