import { ProviderResponseError, ProviderStreamError } from '../../errors/index.js';
import { CallLog, type JsonClientOptions } from '../../http/index.js';
import type { ProviderContext, ProviderServices, SourceSpec } from '../provider.js';

/** The context one drain of `source` hands its provider: the logger bound, a fresh call log, errors that name the source. */
export function providerContext(services: ProviderServices, source: { id: string; provider: string }): ProviderContext {
  const calls = new CallLog();
  const details = () => ({ source: source.id, provider: source.provider, requestId: calls.lastRequestId });
  const logger = services.logger.child(source.provider ? { source: source.id, provider: source.provider } : { source: source.id });
  const guards: Record<string, number> = {};
  return {
    ...services,
    sourceId: source.id,
    providerId: source.provider,
    logger,
    calls,
    guards,
    guard: (guard, fields, message, count = 1) => {
      guards[guard] = (guards[guard] ?? 0) + count;
      logger.warn({ guard, ...fields }, message);
    },
    badAnswer: (message, hint) =>
      new ProviderResponseError(`source ${source.id}: ${message}`, { ...details(), ...(hint === undefined ? {} : { hint }) }),
    unreadableStream: (message, hint) => new ProviderStreamError(`source ${source.id}: ${message}`, { ...details(), hint }),
  };
}

/** What a cloud's client takes from one drain of `source`: the shared pool, retries, signal, bound logger and call log. */
export function clientOptions(source: SourceSpec<unknown, unknown>, context: ProviderContext): JsonClientOptions {
  return {
    http: context.http,
    retry: context.retry,
    source: source.id,
    provider: source.provider,
    signal: context.signal,
    logger: context.logger,
    timeoutMs: source.timeoutMs,
    calls: context.calls,
  };
}
