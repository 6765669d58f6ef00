import { z } from 'zod';

/** "About to upload": written before a data object, so a crashed or outraced upload can be found by number. */
export const intentSchema = z.object({
  version: z.literal(2),
  source: z.string(),
  seq: z.number().int().min(1),
  token: z.string(),
  /** The data object this writer uploads for `seq`. */
  key: z.string(),
  sha256: z.string(),
  bytes: z.number().int().min(0),
  at: z.string(),
});

export type Intent = z.infer<typeof intentSchema>;

export function encodeIntent(intent: Omit<Intent, 'version' | 'at'>): Buffer {
  return Buffer.from(`${JSON.stringify({ version: 2, ...intent, at: new Date().toISOString() })}\n`, 'utf8');
}

/** The intent in `body`; undefined when it is not one (an unreadable intent protects nothing). */
export function parseIntent(body: Buffer): Intent | undefined {
  try {
    const parsed = intentSchema.safeParse(JSON.parse(body.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
