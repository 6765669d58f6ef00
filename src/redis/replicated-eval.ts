import type { RedisClient } from './client.js';

/** How many replicas a write must reach before it counts, and how long to wait for them. */
export interface ReplicaWait {
  replicas: number;
  timeoutMs: number;
}

/**
 * Runs a write script, then (when `wait.replicas` > 0) Redis `WAIT` right behind it on the same
 * connection, so that the write is on that many replicas before the caller relies on it. A
 * pipeline keeps both on one node: on Cluster the one owning the script's keys.
 *
 * Resolves to the script's reply and how many replicas acknowledged (`undefined` without WAIT).
 * Fewer than asked is not an error: the write is done on the master, only less durable.
 */
export async function evalReplicated(
  client: RedisClient,
  script: string,
  keys: readonly string[],
  args: readonly string[],
  wait: ReplicaWait,
): Promise<{ reply: unknown; acknowledged: number | undefined }> {
  if (wait.replicas <= 0) return { reply: await client.eval(script, keys.length, ...keys, ...args), acknowledged: undefined };
  const results = await client
    .pipeline()
    .eval(script, keys.length, ...keys, ...args)
    .wait(wait.replicas, wait.timeoutMs)
    .exec();
  const [scriptResult, waitResult] = results ?? [];
  if (!scriptResult || scriptResult[0]) throw scriptResult?.[0] ?? new Error('redis pipeline returned no reply');
  // A WAIT refused (a replica itself, a proxy without WAIT) leaves the write as durable as without it.
  const acknowledged = waitResult && !waitResult[0] ? Number(waitResult[1]) : 0;
  return { reply: scriptResult[1], acknowledged };
}
