import { z, type ZodType, type ZodTypeDef } from 'zod';

/** An element of an answer: the fields a provider reads, and the element itself, untouched, for the archive. */
export interface Verbatim<T> {
  key: T;
  raw: unknown;
}

/**
 * A schema that checks an element against `schema` but keeps the element as it came: zod's
 * output re-orders and drops keys, and the archive holds the provider's bytes' meaning verbatim.
 */
export function verbatim<T>(schema: ZodType<T, ZodTypeDef, unknown>): ZodType<Verbatim<T>, ZodTypeDef, unknown> {
  return z.unknown().transform((raw, ctx) => {
    const parsed = schema.safeParse(raw);
    if (parsed.success) return { key: parsed.data, raw };
    for (const issue of parsed.error.issues) ctx.addIssue(issue);
    return z.NEVER;
  });
}
