import { format } from 'node:util';
import type { Logger } from '../observability/index.js';

// The worker checks the eviction policy itself and says what to do (one line with a hint);
// BullMQ prints its own notice once per connection, five times at start.
const COVERED = [/^IMPORTANT! Eviction policy is /];

/**
 * Keeps stderr JSON lines: what libraries print with console.warn/console.error and process
 * warnings (deprecations, the AWS SDK's Node.js version notice) go through the logger instead,
 * each distinct message once per process.
 */
export function routeToLogger(logger: Logger): void {
  const seen = new Set<string>();
  const once = (key: string, emit: () => void): void => {
    if (seen.has(key) || COVERED.some((pattern) => pattern.test(key))) return;
    seen.add(key);
    emit();
  };
  console.warn = (...args: unknown[]) => {
    const message = format(...args);
    once(message, () => logger.warn({ from: 'console' }, message));
  };
  console.error = (...args: unknown[]) => {
    const message = format(...args);
    once(message, () => logger.error({ from: 'console' }, message));
  };
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error) => {
    once(`${warning.name}: ${warning.message}`, () => logger.warn({ from: 'process', warning: warning.name }, warning.message));
  });
}
