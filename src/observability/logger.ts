import { pino, destination, stdTimeFunctions, type Logger as PinoLogger, type DestinationStream } from 'pino';

export type Logger = PinoLogger;

/**
 * Paths whose values are secrets wherever they appear in a logged object. Redaction is the
 * logger's job so that no call site has to remember it (pino's redaction model).
 */
export const REDACTED_PATHS = [
  'accessKeyId',
  'accessKeySecret',
  'secretAccessKey',
  'securityToken',
  'ak',
  'sk',
  'token',
  'password',
  'authorization',
  'hmacKey',
  '*.accessKeySecret',
  '*.accessKeyId',
  '*.secretAccessKey',
  '*.securityToken',
  '*.sk',
  '*.ak',
  '*.token',
  '*.password',
  '*.authorization',
  '*.credentials',
  'credentials',
  'headers.authorization',
  'headers["x-auth-token"]',
  'headers["x-acs-security-token"]',
  'headers["x-security-token"]',
  'redis.url',
  '*.redisUrl',
  // A proxy URL may carry its user's password (`http://user:password@proxy:3128`).
  'proxy',
  '*.proxy',
  'headers["proxy-authorization"]',
];

export interface LoggerOptions {
  level?: string;
  destination?: DestinationStream;
}

/** The process logger: JSON lines on stderr, secrets redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: stdTimeFunctions.isoTime,
    },
    options.destination ?? destination({ fd: 2, sync: false }),
  );
}

/** A logger that drops everything; for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
