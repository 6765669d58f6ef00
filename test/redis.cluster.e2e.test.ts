import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys } from '../src/redis/index.js';
import { WorkerProcess, World } from './chaos/harness.js';
import { runWorkers } from './helpers/worker-run.js';
import { TEST_ACL, startCluster, withAdmin, type ClusterDeployment } from './helpers/redis-topologies.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { makeTestCa, type TestCa } from './helpers/test-ca.js';

describe('worker on Redis Cluster (three masters, TLS, ACL user)', () => {
  let world: World;
  let cluster: ClusterDeployment;
  let ca: TestCa;
  let caDir: string;

  beforeAll(async () => {
    caDir = makeTempDir('cluster-ca');
    ca = makeTestCa(caDir);
    [world, cluster] = await Promise.all([World.open({ storage: 'file', perGrow: 15 }), startCluster({ masters: 3, ca })]);
  });
  afterAll(async () => {
    await world?.close();
    await cluster?.stop();
    removeTempDir(caDir);
  });

  it('archives every record exactly once, with every key of the deployment and of BullMQ in one hash slot', async () => {
    const prefix = 'cluster-e2e';
    const config = world.config('cluster', {
      concurrency: 2,
      every: '300ms',
      redis: {
        cluster: { nodes: cluster.nodes.slice(0, 1) },
        username: TEST_ACL.username,
        password: TEST_ACL.password,
        tls: { ca: ca.ca, cert: ca.clientCert, key: ca.clientKey },
        prefix,
      },
    });
    world.fleet.setFaultRate(0.05, ['throttle', 'server']);
    world.grow();
    const workers = [new WorkerProcess('w0', config, {}), new WorkerProcess('w1', config, {})];
    const { diff, exitCodes, overlaps, drains } = await runWorkers(world, workers, () => sleep(3_000));

    // Every key, wherever it is: all on the one node owning the deployment's slot.
    const tag = new RedisKeys(prefix).tag;
    const byNode = new Map<string, string[]>();
    let slot = -1;
    for (const node of cluster.nodes) {
      const port = Number(node.split(':')[1]);
      await withAdmin(cluster.admin(port), async (redis) => {
        const keys = await redis.keys('*');
        if (keys.length > 0) byNode.set(node, keys);
        slot = keys.length > 0 ? Number(await redis.cluster('KEYSLOT', tag)) : slot;
        for (const key of keys) expect(Number(await redis.cluster('KEYSLOT', key)), key).toBe(slot);
      });
    }
    const keys = [...byNode.values()].flat();
    console.log(
      `cluster: ${drains} drains, ${overlaps.length} overlapping, ${diff.records} records in ${diff.objects} objects, ` +
        `${diff.missing} missing, ${diff.duplicated} duplicated; ${keys.length} keys on ${byNode.size} node(s), slot ${slot}`,
    );
    expect(diff.detail).toEqual([]);
    expect(diff.missing).toBe(0);
    expect(diff.duplicated).toBe(0);
    expect(overlaps).toEqual([]);
    for (const worker of workers) expect(worker.crashes, `${worker.label}:\n${worker.tail()}`).toEqual([]);
    expect(exitCodes).toEqual([0, 0]);
    expect(byNode.size).toBe(1);
    expect(keys.every((key) => key.startsWith(`${tag}:`))).toBe(true);
    // The archiver's own keys and BullMQ's are both there.
    for (const kind of [':lease-epoch', ':fence', ':state:', ':status:', ':schedulers', ':drain:meta', ':drain:repeat']) {
      expect(
        keys.some((key) => key.includes(kind)),
        kind,
      ).toBe(true);
    }
  });
});
