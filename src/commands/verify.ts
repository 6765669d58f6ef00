import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import {
  verifyArchive,
  type ExpectedHead,
  type Problem,
  type VerifiedPoint,
  type VerifyReport,
  type VerifySince,
} from '../archive/index.js';
import { writeFileAtomic } from '../fsutil/index.js';
import { loadConfig } from '../config/index.js';
import { ConfigError } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import { openRuntime, type Runtime } from '../runtime.js';
import { createObjectStore } from '../storage/index.js';
import { EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE, exitCodeForError } from './exit-codes.js';
import { printError, type Output } from './output.js';

export interface VerifyCommandOptions {
  config: string;
  json?: boolean;
  source?: string[];
  /** ISO-8601: digest gaps after this time are not reported (an archive no longer written to). */
  until?: string;
  /** A file where each intact run records where it ended; the next run checks only what came after. */
  state?: string;
  /** An entry number or an ISO-8601 time: only entries from there on (and the links and digests into them). */
  since?: string;
}

/**
 * Checks the archive against its chains; exit 0 intact, 1 with what is wrong and where, 3 when
 * storage (or a configured checkpoint store) cannot be reached. Works from an auditor's config
 * holding only `storage` and `manifests`: the sources are then found in storage.
 */
export async function verify(options: VerifyCommandOptions, output: Output, logger: Logger): Promise<number> {
  const since = options.since !== undefined ? parseSince(options.since) : undefined;
  if (since && options.state) {
    throw new ConfigError('--since and --state together', [
      { path: '--since', message: '--state already starts where the last intact run ended: use one of the two' },
    ]);
  }
  const until = options.until !== undefined ? parseTime(options.until, '--until') : undefined;
  const config = await loadConfig(options.config, process.env, { sourcesOptional: true });
  let runtime: Runtime | undefined;
  const store = config.sources.length > 0 ? undefined : createObjectStore(config.storage, { proxy: config.http.proxy });
  try {
    const expectedHeads = new Map<string, ExpectedHead>();
    if (config.sources.length > 0) {
      // The checkpoint cache of the deployment is a witness of each source's newest entry.
      runtime = await openRuntime(config, { logger, needRedis: false, write: false });
      for (const source of config.sources) {
        const state = await runtime.deps.checkpoints.load(source.id);
        if (state?.head) expectedHeads.set(source.id, state.head);
      }
    }
    const target = runtime?.store ?? store!;
    const from = options.state ? await readState(options.state) : undefined;
    const report = await verifyArchive(target, {
      ...(from ? { from } : {}),
      ...(since ? { since } : {}),
      keys: config.manifests.keys,
      expectedHeads,
      sources: config.sources.map((s) => s.id),
      ...(options.source && options.source.length > 0 ? { only: options.source } : {}),
      digestIntervalMs: config.manifests.digestIntervalMs,
      ...(until ? { until } : {}),
    });
    print(report, options.json === true, output, target.describe());
    if (options.state) await writeState(options.state, report, from);
    return report.ok ? EXIT_OK : EXIT_FAILED;
  } catch (error) {
    if (exitCodeForError(error) !== EXIT_UNAVAILABLE) throw error;
    printError(output, error);
    output.err('verify: storage could not be read: nothing was judged');
    return EXIT_UNAVAILABLE;
  } finally {
    await runtime?.close();
    await store?.close();
  }
}

const stateSchema = z.record(
  z.object({
    entry: z.object({ seq: z.number().int().min(1), sha256: z.string() }).nullable(),
    digest: z.object({ n: z.number().int().min(1), sha256: z.string(), writtenAt: z.string(), intervalMs: z.number() }).nullable(),
    verifiedAt: z.string(),
  }),
);

/** Where earlier intact runs ended, per source; a missing or unreadable file means: verify everything. */
async function readState(path: string): Promise<Map<string, VerifiedPoint>> {
  try {
    const parsed = stateSchema.safeParse(JSON.parse(await readFile(path, 'utf8')));
    return new Map(parsed.success ? Object.entries(parsed.data) : []);
  } catch {
    return new Map();
  }
}

/** Records where each intact source ended; a damaged source keeps its old point, so it is checked again. */
async function writeState(path: string, report: VerifyReport, from: Map<string, VerifiedPoint> | undefined): Promise<void> {
  const damaged = new Set(report.problems.map((p) => p.source));
  const state: Record<string, VerifiedPoint> = Object.fromEntries(from ?? []);
  const now = new Date().toISOString();
  for (const s of report.sources) {
    if (damaged.has(s.source)) continue;
    state[s.source] = {
      entry: s.newestEntry ?? state[s.source]?.entry ?? null,
      digest: s.newestDigest ?? state[s.source]?.digest ?? null,
      verifiedAt: now,
    };
  }
  await writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`);
}

function parseTime(text: string, flag: string): Date {
  const at = new Date(text);
  if (Number.isNaN(at.getTime())) {
    throw new ConfigError(`bad ${flag}`, [{ path: flag, message: 'expected an ISO-8601 time such as 2026-12-31T00:00:00Z' }]);
  }
  return at;
}

/** `--since 1200` (an entry number, per source) or `--since 2026-11-01T00:00:00Z`. */
function parseSince(text: string): VerifySince {
  if (/^\d+$/.test(text)) {
    const seq = Number(text);
    if (seq >= 1 && Number.isSafeInteger(seq)) return { seq };
    throw new ConfigError('bad --since', [{ path: '--since', message: 'entry numbers start at 1' }]);
  }
  // A time must look like one: `new Date('12x')` would otherwise guess a year.
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) {
    throw new ConfigError('bad --since', [
      { path: '--since', message: 'expected an entry number or an ISO-8601 time such as 2026-11-01T00:00:00Z' },
    ]);
  }
  return { time: parseTime(text, '--since') };
}

function print(report: VerifyReport, json: boolean, output: Output, location: string): void {
  if (json) {
    output.out(JSON.stringify(report, null, 2));
    return;
  }
  for (const s of report.sources) {
    const extra = [
      s.pending.length > 0 ? `${s.pending.length} upload(s) in flight` : '',
      s.unsigned > 0 ? `${s.unsigned} unsigned entries before signing was turned on` : '',
      s.acknowledgements > 0 ? `${s.acknowledgements} acknowledgement(s)` : '',
      s.digests > 0 ? `${s.digests} digests, the newest ${s.newestDigestAt}` : '',
    ].filter((x) => x !== '');
    output.out(
      `${s.source}: ${s.from !== undefined ? `from entry #${s.from}, ` : ''}${s.objects} objects, ${s.records} records, ${s.manifests} manifests${extra.length > 0 ? `, ${extra.join(', ')}` : ''}`,
    );
  }
  const line = (label: string, p: Problem): string => `${label} ${p.kind} ${p.source} ${p.key}: ${p.detail}`;
  for (const p of report.acknowledged) output.out(line('ACKNOWLEDGED', p));
  for (const p of report.problems) output.out(line('DAMAGE', p));
  output.out(report.ok ? `verify: archive intact (${location})` : `verify: ${report.problems.length} problem(s) found`);
}
