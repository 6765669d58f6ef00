import { z } from 'zod';
import { nodeAtLeast } from '../node-support.js';

/**
 * The proxy settings Node's own agents understand (`proxyEnv`): which proxy carries `http:` and
 * `https:` requests, and which hosts go direct. An `https:` request is tunnelled with CONNECT,
 * so the proxy sees the host name, never the request or its signature.
 */
export interface ProxyEnv {
  HTTP_PROXY?: string;
  HTTPS_PROXY?: string;
  NO_PROXY?: string;
}

/** A problem with one proxy variable, by name; the value is never echoed (it may hold a password). */
export interface ProxyEnvIssue {
  variable: string;
  message: string;
}

/**
 * Always direct, as Go's tools have it: no proxy reaches this host's loopback, and a shell's proxy
 * settings would otherwise send a local server's calls (a MinIO, the demo's simulators) away.
 */
const LOOPBACK = ['localhost', '127.0.0.1', '::1'];

const proxyUrl = z
  .string()
  .url('expected a URL such as http://proxy.internal:3128')
  .refine((text) => /^https?:$/.test(new URL(text).protocol), 'expected an http:// or https:// proxy URL (Node has no SOCKS proxy)');

/**
 * Reads `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` (the lower-case spelling wins when both are
 * set, as with curl and Node itself; loopback hosts are added to NO_PROXY) and checks each proxy
 * URL: Node would silently send the request direct on a value it cannot parse, and a deployment
 * that must go through its proxy would then fail far from the cause. Undefined when no proxy is set.
 */
export function proxyEnvOf(
  env: NodeJS.ProcessEnv,
  issues: ProxyEnvIssue[] = [],
  nodeVersion: string = process.versions.node,
): ProxyEnv | undefined {
  const proxy: ProxyEnv = {};
  let setBy: string | undefined;
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY'] as const) {
    const found = pick(env, name);
    if (!found) continue;
    const checked = proxyUrl.safeParse(found.value);
    if (!checked.success) {
      issues.push({ variable: found.variable, message: checked.error.issues[0]?.message ?? 'expected a proxy URL' });
      continue;
    }
    proxy[name] = found.value;
    // The too-old-Node issue names the HTTPS variable when both are set: it carries the provider calls.
    setBy = found.variable;
  }
  if (setBy === undefined) return undefined;
  if (!agentsTakeProxies(nodeVersion)) {
    // An older agent takes `proxyEnv` without a word and goes direct.
    issues.push({
      variable: setBy,
      message: `Node.js ${nodeVersion} cannot send requests through a proxy: run the archiver on Node.js 22.21 or later (24.5 or later on 24)`,
    });
    return undefined;
  }
  const noProxy = pick(env, 'NO_PROXY');
  proxy.NO_PROXY = [...(noProxy ? [noProxy.value] : []), ...LOOPBACK].join(',');
  return proxy;
}

/**
 * Agent options for a client that builds its own agents (the AWS SDK's request handler): Node
 * gives an agent no proxy unless told, whatever the environment says.
 */
export function agentProxyOptions(proxy: ProxyEnv | undefined): {
  httpAgent?: { proxyEnv: ProxyEnv };
  httpsAgent?: { proxyEnv: ProxyEnv };
} {
  return proxy ? { httpAgent: { proxyEnv: proxy }, httpsAgent: { proxyEnv: proxy } } : {};
}

/** The proxy URL of one protocol (`http:` or `https:`), parsed; undefined when that protocol goes direct. */
export function proxyUrlOf(proxy: ProxyEnv | undefined, protocol: string): URL | undefined {
  const url = protocol === 'https:' ? proxy?.HTTPS_PROXY : proxy?.HTTP_PROXY;
  return url === undefined ? undefined : new URL(url);
}

/** A proxy URL with its credentials removed, for messages (`http://proxy:3128`). */
export function describeProxyUrl(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

/** The proxy of one protocol with its credentials removed, for messages; undefined when direct. */
export function describeProxy(proxy: ProxyEnv | undefined, protocol: string): string | undefined {
  const url = proxyUrlOf(proxy, protocol);
  return url === undefined ? undefined : describeProxyUrl(url);
}

/** Node's agents honour `proxyEnv` from 22.21.0 and 24.5.0 (measured: older ones ignore it). */
function agentsTakeProxies(version: string): boolean {
  return nodeAtLeast(version, 24, 5) || (nodeAtLeast(version, 22, 21) && !nodeAtLeast(version, 23, 0));
}

function pick(env: NodeJS.ProcessEnv, upper: string): { variable: string; value: string } | undefined {
  const lower = upper.toLowerCase();
  const value = env[lower]?.trim() || env[upper]?.trim();
  if (!value) return undefined;
  return { variable: env[lower]?.trim() ? lower : upper, value };
}
