import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A throwaway certificate authority with a server and a client certificate, made by `openssl`. */
export interface TestCa {
  caPath: string;
  serverCertPath: string;
  serverKeyPath: string;
  /** PEM texts, as a config would hold them (through `${file:…}`). */
  ca: string;
  clientCert: string;
  clientKey: string;
  /** A second, unrelated CA: a server certificate must not chain to it. */
  otherCa: string;
}

/** Makes a CA valid for a day, a server certificate for localhost/127.0.0.1 (and api.proxied.test, see ForwardProxy) and a client certificate, in `dir`. */
export function makeTestCa(dir: string): TestCa {
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', '-new', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=log-archiver test CA');
  run('req', '-x509', '-new', ...ec, '-keyout', 'other-ca.key', '-out', 'other-ca.crt', '-days', '1', '-subj', '/CN=unrelated CA');
  writeFileSync(
    join(dir, 'server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:api.proxied.test\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, subject] of [
    ['server', '/CN=localhost'],
    ['client', '/CN=log-archiver'],
  ] as const) {
    run('req', '-new', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    );
  }
  const read = (name: string): string => readFileSync(join(dir, name), 'utf8');
  return {
    caPath: join(dir, 'ca.crt'),
    serverCertPath: join(dir, 'server.crt'),
    serverKeyPath: join(dir, 'server.key'),
    ca: read('ca.crt'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
    otherCa: read('other-ca.crt'),
  };
}

/** redis-server arguments serving TLS only on `port` with `ca`'s server certificate; clients must present a certificate. */
export function redisTlsArgs(ca: TestCa, port: number): string[] {
  return [
    '--port',
    '0',
    '--tls-port',
    String(port),
    '--tls-cert-file',
    ca.serverCertPath,
    '--tls-key-file',
    ca.serverKeyPath,
    '--tls-ca-cert-file',
    ca.caPath,
    '--tls-auth-clients',
    'yes',
  ];
}
