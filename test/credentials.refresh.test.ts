import { describe, expect, it } from 'vitest';
import { RefreshingCredentials, type CredentialIssuer } from '../src/credentials/index.js';
import { CredentialError, ProviderAuthError, ProviderServerError } from '../src/errors/index.js';
import { silentLogger } from '../src/observability/index.js';

/** An issuer of numbered credentials, each valid `lifetimeMs` from the fake clock's now. */
function issuer(clock: { now: number }, lifetimeMs: number, behaviour: { fail?: Error; delayMs?: number } = {}) {
  const calls: number[] = [];
  const source: CredentialIssuer<{ n: number }> & { calls: number[] } = {
    describe: 'test role',
    identity: 'role/test',
    hint: 'fix the role',
    calls,
    async issue() {
      calls.push(clock.now);
      if (behaviour.delayMs) await new Promise((r) => setTimeout(r, behaviour.delayMs));
      if (behaviour.fail) throw behaviour.fail;
      return { credentials: { n: calls.length }, expiresAt: clock.now + lifetimeMs };
    },
  };
  return source;
}

describe('refreshing temporary credentials', () => {
  it('answers cached credentials, refreshes in the background once a fifth of the lifetime is left, and never hands out nearly expired ones', async () => {
    const clock = { now: 1_000_000 };
    const hour = 3_600_000;
    const fake = issuer(clock, hour);
    const source = new RefreshingCredentials(fake, { logger: silentLogger(), now: () => clock.now });
    expect(await source.get()).toEqual({ n: 1 });
    clock.now += hour * 0.7;
    expect(await source.get()).toEqual({ n: 1 });
    expect(fake.calls).toHaveLength(1);
    // 12 minutes before expiry: still the current ones, a refresh starts behind them.
    clock.now += hour * 0.11;
    expect(await source.get()).toEqual({ n: 1 });
    await new Promise((r) => setImmediate(r));
    expect(fake.calls).toHaveLength(2);
    expect(await source.get()).toEqual({ n: 2 });
    // In the last minute of the new ones, the caller waits for fresh credentials.
    clock.now += hour - 30_000;
    expect(await source.get()).toEqual({ n: 3 });
    expect(source.refreshes).toBe(3);
    expect(source.identity).toBe('role/test');
  });

  it('shares one refresh among concurrent callers', async () => {
    const clock = { now: 0 };
    const fake = issuer(clock, 60_000, { delayMs: 20 });
    const source = new RefreshingCredentials(fake, { logger: silentLogger(), now: () => clock.now });
    const answers = await Promise.all(Array.from({ length: 20 }, () => source.get()));
    expect(new Set(answers.map((a) => a.n))).toEqual(new Set([1]));
    expect(fake.calls).toHaveLength(1);
  });

  it('fails with a typed error naming the credentials, their sources and what to fix; a refusal is not retryable, an outage is', async () => {
    const clock = { now: 0 };
    const refused = new RefreshingCredentials(
      issuer(clock, 60_000, { fail: new ProviderAuthError('STS answered HTTP 403 NoPermission', {}) }),
      {
        logger: silentLogger(),
        now: () => clock.now,
      },
    )
      .usedBy('oos-a')
      .usedBy('oos-b');
    const error = await refused.get().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredentialError);
    expect((error as CredentialError).message).toBe(
      'test role (sources oos-a, oos-b): could not obtain credentials: STS answered HTTP 403 NoPermission',
    );
    expect((error as CredentialError).hint).toBe('fix the role');
    expect((error as CredentialError).retryable).toBe(false);
    expect((error as CredentialError).code).toBe('ERR_CREDENTIALS');

    const down = new RefreshingCredentials(issuer(clock, 60_000, { fail: new ProviderServerError('STS answered HTTP 503', {}) }), {
      logger: silentLogger(),
      now: () => clock.now,
    });
    const outage = await down.get().catch((e: unknown) => e);
    expect((outage as CredentialError).retryable).toBe(true);
  });

  it('keeps answering the current credentials while a background refresh fails, and refuses ones the issuer gave already expired', async () => {
    const clock = { now: 0 };
    const behaviour: { fail?: Error } = {};
    const fake = issuer(clock, 600_000, behaviour);
    const source = new RefreshingCredentials(fake, { logger: silentLogger(), now: () => clock.now });
    expect(await source.get()).toEqual({ n: 1 });
    behaviour.fail = new ProviderServerError('STS answered HTTP 503', {});
    clock.now += 500_000;
    expect(await source.get()).toEqual({ n: 1 });
    await new Promise((r) => setImmediate(r));
    expect(await source.get()).toEqual({ n: 1 });
    expect(fake.calls.length).toBeGreaterThanOrEqual(2);
    // In the last tenth there is no current answer left to fall back on.
    clock.now += 60_000;
    await expect(source.get()).rejects.toBeInstanceOf(CredentialError);

    const stale = new RefreshingCredentials(
      { ...issuer(clock, 0), issue: async () => ({ credentials: { n: 0 }, expiresAt: clock.now - 1 }) },
      { logger: silentLogger(), now: () => clock.now },
    );
    await expect(stale.get()).rejects.toThrow(/already expired/);
  });
});
