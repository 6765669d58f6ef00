import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { HttpClientOptions } from '../../src/http/index.js';

const CLIENT_MODULE = new URL('../../dist/src/http/index.js', import.meta.url).href;

/**
 * The body of one GET through the built HttpClient in a fresh Node process with `env` added: how
 * certificate stores read at start (NODE_EXTRA_CA_CERTS) are tested, as an operator would set them.
 */
export async function getInChild(url: string, env: NodeJS.ProcessEnv, options: HttpClientOptions = {}): Promise<string> {
  const script = `const { HttpClient } = await import(${JSON.stringify(CLIENT_MODULE)});
    const client = new HttpClient(${JSON.stringify(options)});
    const r = await client.send({ method: 'GET', url: new URL(${JSON.stringify(url)}), headers: {} });
    await client.close();
    process.stdout.write(r.body);`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return stdout;
}
