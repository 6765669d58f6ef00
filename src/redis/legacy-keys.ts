import type { Logger } from '../observability/index.js';
import { isCluster, type RedisClient } from './client.js';
import { LegacyRedisKeys, type RedisKeys } from './keys.js';

// Keeps the fence counter from going backwards across the rename: the new counter starts at
// least at the old one. Tokens are also seeded from the server clock, so this only matters when
// that clock is behind the last token issued (a restored snapshot, a promoted replica).
const ADOPT_FENCE = `
local old = tonumber(redis.call('GET', KEYS[2]) or '0')
local new = tonumber(redis.call('GET', KEYS[1]) or '0')
if old > new then redis.call('SET', KEYS[1], string.format('%d', old)) end
return 1
`;

// Run status is only shown by `status`; copied so that "last success" survives the upgrade.
const ADOPT_STATUS = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  local old = redis.call('GET', KEYS[2])
  if old then redis.call('SET', KEYS[1], old) end
end
return 1
`;

/**
 * Carries a deployment over from the key names of releases before hash tags (`prefix:…`): the
 * fence counter and run status are adopted, the rest is left for the operator to delete.
 *
 * Checkpoints are not copied: they are a cache, and the first drain rebuilds them from the
 * manifests in storage. BullMQ's old queue is abandoned; the worker re-creates its schedulers
 * under the new names. Old names never existed on Cluster (no release before supported it), so
 * nothing is done there.
 */
export async function adoptLegacyKeys(client: RedisClient, keys: RedisKeys, sources: readonly string[], logger: Logger): Promise<void> {
  if (isCluster(client)) return;
  const legacy = new LegacyRedisKeys(keys.prefix);
  // Every deployment that ever drained has a fence counter; one that never did has nothing to carry.
  if ((await client.exists(legacy.fence())) === 0) return;
  await client.eval(ADOPT_FENCE, 2, keys.fence(), legacy.fence());
  for (const source of sources) await client.eval(ADOPT_STATUS, 2, keys.status(source), legacy.status(source));
  logger.warn(
    { oldPattern: legacy.pattern(), newPattern: keys.pattern() },
    'redis holds keys under the names of an older release (no hash tag); the fence counter and run status were carried over. ' +
      'Stop workers of the older release (they would drain beside this one; storage still keeps the archive exact), ' +
      'then delete the old keys: redis-cli --scan --pattern "<oldPattern>" | xargs -r redis-cli unlink',
  );
}
