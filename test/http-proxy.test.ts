import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProviderNetworkError } from '../src/errors/index.js';
import { HttpClient, proxyEnvOf, type ProxyEnvIssue } from '../src/http/index.js';
import { createLogger } from '../src/observability/index.js';
import { FileObjectStore } from '../src/storage/index.js';
import { OosSimulator } from '../simulators/index.js';
import { getInChild } from './helpers/child-http.js';
import { runCli } from './helpers/cli.js';
import { ForwardProxy, PROXIED_DOMAIN, proxiedUrl } from './helpers/forward-proxy.js';
import { readArchive } from './helpers/read-archive.js';
import { startS3, type S3Handle } from './helpers/with-s3.js';
import { makeTestCa } from './helpers/test-ca.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const USER = { username: 'archiver', password: 'proxy-pw-Zq9-must-not-print' };

describe('proxy settings from the environment', () => {
  it('take the lower-case spelling over the upper-case one, as curl and Node do', () => {
    const proxy = proxyEnvOf({ HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:2', NO_PROXY: 'a', no_proxy: 'b' });
    expect(proxy).toEqual({ HTTPS_PROXY: 'http://lower:2', NO_PROXY: 'b,localhost,127.0.0.1,::1' });
    expect(proxyEnvOf({ HTTP_PROXY: 'http://p:1' })).toEqual({ HTTP_PROXY: 'http://p:1', NO_PROXY: 'localhost,127.0.0.1,::1' });
    expect(proxyEnvOf({ NO_PROXY: 'localhost' })).toBeUndefined();
    expect(proxyEnvOf({ HTTP_PROXY: '  ' })).toBeUndefined();
  });

  it('refuse a proxy URL Node would silently ignore, naming the variable and never its value', () => {
    const issues: ProxyEnvIssue[] = [];
    expect(
      proxyEnvOf({ HTTPS_PROXY: `proxy.internal:3128`, http_proxy: `socks5://${USER.username}:${USER.password}@p:1080` }, issues),
    ).toBeUndefined();
    expect(issues.map((i) => i.variable)).toEqual(['http_proxy', 'HTTPS_PROXY']);
    expect(issues[0]!.message).toContain('http:// or https://');
    expect(JSON.stringify(issues)).not.toContain(USER.password);
  });

  it('refuse a proxy on a Node.js whose agents would ignore it and go direct', () => {
    const env = { HTTPS_PROXY: 'http://p:3128' };
    const issues: ProxyEnvIssue[] = [];
    expect(proxyEnvOf(env, issues, '22.20.0')).toBeUndefined();
    expect(issues[0]!.message).toMatch(/Node\.js 22\.20\.0 cannot send requests through a proxy/);
    for (const version of ['22.21.0', '24.5.0', '25.1.0']) expect(proxyEnvOf(env, [], version)?.HTTPS_PROXY, version).toBe(env.HTTPS_PROXY);
    expect(proxyEnvOf(env, [], '24.4.1')).toBeUndefined();
  });

  it('never reach a log line: the proxy settings and a Proxy-Authorization header are redacted', () => {
    const lines: string[] = [];
    const logger = createLogger({ destination: { write: (line: string) => lines.push(line) } });
    const proxy = proxyEnvOf({ HTTPS_PROXY: `http://${USER.username}:${USER.password}@p:3128` });
    logger.info({ proxy, http: { proxy }, headers: { 'proxy-authorization': `Basic ${USER.password}` } }, 'settings');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('[redacted]');
    expect(lines[0]).not.toContain(USER.password);
  });
});

describe('HttpClient behind a proxy', () => {
  let target: Server;
  /** The target by a name only the proxy resolves; `local` by its loopback name. */
  let base: string;
  let local: string;
  let proxy: ForwardProxy;
  let guarded: ForwardProxy;

  beforeAll(async () => {
    target = createServer((req, res) => res.end(`answer to ${req.method} ${req.url}`));
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    local = `http://localhost:${(target.address() as AddressInfo).port}`;
    base = proxiedUrl(local, 'api');
    proxy = new ForwardProxy();
    guarded = new ForwardProxy({ credentials: USER });
    await Promise.all([proxy.start(), guarded.start()]);
  });

  afterAll(async () => {
    target.closeAllConnections();
    await new Promise<void>((resolve) => target.close(() => resolve()));
    await Promise.all([proxy.close(), guarded.close()]);
  });

  beforeEach(() => {
    proxy.requests.length = 0;
    guarded.requests.length = 0;
  });

  it('forwards http calls through HTTP_PROXY with the credentials of its URL', async () => {
    const client = new HttpClient({ proxy: { HTTP_PROXY: guarded.url(USER) } });
    try {
      const answer = await client.send({ method: 'POST', url: new URL('/api?x=1', base), headers: {}, body: '{}' });
      expect(answer.body).toBe('answer to POST /api?x=1');
      expect(guarded.requests).toEqual([
        {
          method: 'POST',
          target: `${base}/api?x=1`,
          authorization: `Basic ${Buffer.from(`${USER.username}:${USER.password}`).toString('base64')}`,
        },
      ]);
    } finally {
      await client.close();
    }
  });

  it('goes direct for hosts NO_PROXY names, for loopback hosts, and for direct calls (instance metadata)', async () => {
    const env = (noProxy?: string) => proxyEnvOf({ HTTP_PROXY: proxy.url(), ...(noProxy ? { NO_PROXY: noProxy } : {}) })!;
    const bypassing = new HttpClient({ proxy: env(`metadata.internal, .${PROXIED_DOMAIN}`), timeoutMs: 3_000 });
    const proxied = new HttpClient({ proxy: env(), timeoutMs: 3_000 });
    try {
      // Direct, a name only the proxy knows does not resolve: the proxy never saw the call.
      for (const [client, direct] of [
        [bypassing, false],
        [proxied, true],
      ] as const) {
        const error = await client.send({ method: 'GET', url: new URL('/a', base), headers: {}, direct }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ProviderNetworkError);
        expect((error as ProviderNetworkError).hint ?? '').not.toContain('proxy');
      }
      for (const host of [local, local.replace('localhost', '127.0.0.1')]) {
        expect((await proxied.send({ method: 'GET', url: new URL('/b', host), headers: {} })).body).toBe('answer to GET /b');
      }
      expect(proxy.requests).toEqual([]);
      expect((await proxied.send({ method: 'GET', url: new URL('/c', base), headers: {} })).body).toBe('answer to GET /c');
      expect(proxy.requests.map((r) => r.target)).toEqual([`${base}/c`]);
    } finally {
      await Promise.all([bypassing.close(), proxied.close()]);
    }
  });

  it('says which proxy refused and why, without its password', async () => {
    const client = new HttpClient({ proxy: { HTTPS_PROXY: guarded.url({ ...USER, password: 'wrong-pw-Zq9' }) } });
    const refused = new HttpClient({ proxy: { HTTP_PROXY: `http://${USER.username}:${USER.password}@127.0.0.1:1` } });
    try {
      const tunnel = await client
        .send({ method: 'GET', url: new URL('https://api.example.invalid/x'), headers: {} })
        .catch((e: unknown) => e);
      expect(tunnel).toBeInstanceOf(ProviderNetworkError);
      const tunnelError = tunnel as ProviderNetworkError;
      expect(tunnelError.message).toContain(`ERR_PROXY_TUNNEL (proxy ${new URL(guarded.url()).origin} answered CONNECT with HTTP 407)`);
      expect(tunnelError.hint).toContain('HTTPS_PROXY');
      expect(guarded.requests.map((r) => `${r.method} ${r.target}`)).toEqual(['CONNECT api.example.invalid:443']);

      const down = await refused.send({ method: 'GET', url: new URL('/x', base), headers: {} }).catch((e: unknown) => e);
      expect(down).toBeInstanceOf(ProviderNetworkError);
      const downError = down as ProviderNetworkError;
      expect(downError.message).toContain('ECONNREFUSED 127.0.0.1:1');
      expect(downError.hint).toContain('the proxy http://127.0.0.1:1 (HTTP_PROXY) failed');
      for (const error of [tunnelError, downError]) {
        const shown = `${error.message} ${error.hint ?? ''} ${String((error.cause as Error).message)} ${JSON.stringify(error)}`;
        expect(shown).not.toContain('wrong-pw-Zq9');
        expect(shown).not.toContain(USER.password);
      }
    } finally {
      await Promise.all([client.close(), refused.close()]);
    }
  });

  it('tunnels https calls through CONNECT, the proxy seeing the host and never the request', async () => {
    const dir = makeTempDir('proxy-tls');
    const ca = makeTestCa(dir);
    const tls = createTlsServer({ cert: readFileSync(ca.serverCertPath), key: readFileSync(ca.serverKeyPath) }, (req, res) =>
      res.end(`secret path ${req.url}`),
    );
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    const tlsBase = proxiedUrl(`https://localhost:${(tls.address() as AddressInfo).port}`, 'api');
    try {
      // A child process: the test CA is trusted the way an operator would (NODE_EXTRA_CA_CERTS).
      const stdout = await getInChild(
        new URL('/v1/logs?token=t', tlsBase).href,
        { NODE_EXTRA_CA_CERTS: ca.caPath },
        {
          proxy: { HTTPS_PROXY: guarded.url(USER) },
        },
      );
      expect(stdout).toBe('secret path /v1/logs?token=t');
      expect(guarded.requests.map((r) => `${r.method} ${r.target}`)).toEqual([`CONNECT ${new URL(tlsBase).host}`]);
    } finally {
      tls.closeAllConnections();
      await new Promise<void>((resolve) => tls.close(() => resolve()));
      removeTempDir(dir);
    }
  });
});

describe('S3 storage behind a proxy', () => {
  let s3: S3Handle;
  let proxy: ForwardProxy;

  beforeAll(async () => {
    proxy = new ForwardProxy({ credentials: USER });
    [s3] = await Promise.all([startS3(), proxy.start()]);
  });

  afterAll(async () => {
    await Promise.all([s3?.close(), proxy?.close()]);
  });

  it('writes (create-only and multipart) and reads objects through HTTP_PROXY', async () => {
    const MiB = 1024 * 1024;
    // The proxy settings as given, without the loopback entries proxyEnvOf adds: this server is local.
    const store = s3.store('via-proxy/', {
      proxy: { HTTP_PROXY: proxy.url(USER) },
      multipartThresholdBytes: 5 * MiB,
      partSizeBytes: 5 * MiB,
    });
    await store.prepare();
    await store.putBytes('a/b.txt', Buffer.from('through the proxy'), { contentType: 'text/plain', ifNoneMatch: true });
    const big = Buffer.alloc(6 * MiB, 7);
    const dir = makeTempDir('proxy-s3');
    writeFileSync(join(dir, 'big.bin'), big);
    await store.putFile('a/big.bin', join(dir, 'big.bin'), { contentType: 'application/octet-stream' });
    removeTempDir(dir);
    expect((await store.get('a/b.txt'))?.toString()).toBe('through the proxy');
    expect((await s3.getObject('via-proxy/a/b.txt'))?.toString()).toBe('through the proxy');
    expect((await s3.getObject('via-proxy/a/big.bin'))?.equals(big)).toBe(true);
    const seen = proxy.requests.map(
      (r) => `${r.method} ${new URL(r.target).pathname}${new URL(r.target).search.includes('partNumber') ? ' (part)' : ''}`,
    );
    expect(seen).toContain(`PUT /${s3.bucket}/via-proxy/a/b.txt`);
    expect(seen).toContain(`GET /${s3.bucket}/via-proxy/a/b.txt`);
    // CreateMultipartUpload, its parts and CompleteMultipartUpload all went through the proxy.
    expect(seen.filter((r) => r === `POST /${s3.bucket}/via-proxy/a/big.bin`)).toHaveLength(2);
    expect(seen.filter((r) => r === `PUT /${s3.bucket}/via-proxy/a/big.bin (part)`).length).toBeGreaterThan(0);
    expect(proxy.requests.every((r) => r.authorization !== undefined)).toBe(true);
  });
});

describe('the archiver behind a proxy', () => {
  let dir: string;
  let oos: OosSimulator;
  let proxy: ForwardProxy;
  let config: string;

  beforeAll(async () => {
    dir = makeTempDir('proxy-cli');
    oos = new OosSimulator();
    oos.addExecution('exec-p');
    oos.appendLogs('exec-p', ['first line', 'second line', 'third line']);
    proxy = new ForwardProxy({ credentials: USER });
    await Promise.all([oos.start(), proxy.start()]);
    config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      JSON.stringify({
        storage: { kind: 'file', path: join(dir, 'archive') },
        checkpoints: { kind: 'file', path: join(dir, 'state') },
        sources: [
          {
            id: 'oos-proxied',
            provider: 'aliyun-oos-execution-logs',
            endpoint: proxiedUrl(oos.url, 'oos'),
            credentials: oos.credentials,
            params: { regionId: 'cn-hangzhou', executionIds: ['exec-p'] },
          },
        ],
      }),
    );
  });

  afterAll(async () => {
    await Promise.all([oos?.stop(), proxy?.close()]);
    removeTempDir(dir);
  });

  it('run-once reaches the provider through HTTP_PROXY and archives every record', async () => {
    const result = await runCli(['run-once', '-c', config], { HTTP_PROXY: proxy.url(USER), REDIS_URL: '' });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout + result.stderr).not.toContain(USER.password);
    const oosHost = new URL(proxiedUrl(oos.url, 'oos')).host;
    expect(proxy.requests.length).toBeGreaterThan(0);
    expect(proxy.requests.every((r) => r.method === 'POST' && new URL(r.target).host === oosHost)).toBe(true);
    const { envelopes } = await readArchive(new FileObjectStore({ path: join(dir, 'archive') }));
    expect(envelopes.map((e) => (e.record as { Message?: string }).Message).sort()).toEqual(['first line', 'second line', 'third line']);
  });

  it('validate shows the proxy without its password; a malformed proxy URL is a config error (exit 2)', async () => {
    const shown = await runCli(['validate', '-c', config], { HTTPS_PROXY: proxy.url(USER), NO_PROXY: '.internal' });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(
      `proxy:       https:// via ${new URL(proxy.url()).origin}, http:// direct; direct for .internal,localhost,127.0.0.1,::1`,
    );
    expect(shown.stdout).not.toContain(USER.password);

    const bad = await runCli(['validate', '-c', config], { https_proxy: `socks5://${USER.username}:${USER.password}@p:1080` });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('environment https_proxy: expected an http:// or https:// proxy URL');
    expect(bad.stdout + bad.stderr).not.toContain(USER.password);
  });
});
