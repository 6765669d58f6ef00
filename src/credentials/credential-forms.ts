import { z, type ZodTypeAny } from 'zod';

/**
 * A credentials schema whose forms are told apart by one key (`{ assumeRole: {…} }`, `{ iam: {…} }`)
 * or, without such a key, are the plain keys: so that a problem is reported inside the form the
 * user wrote (`credentials.assumeRole.roleArn: …`), not as "matches none of 4 forms".
 */
export function credentialForms<P extends ZodTypeAny, F extends Record<string, ZodTypeAny>>(
  plain: P,
  forms: F,
): z.ZodType<z.output<P> | { [K in keyof F]: { [k in K]: z.output<F[K]> } }[keyof F], z.ZodTypeDef, unknown> {
  const kinds = Object.keys(forms);
  return z.unknown().transform((value, ctx) => {
    const kind = value !== null && typeof value === 'object' ? kinds.find((k) => Object.hasOwn(value, k)) : undefined;
    const schema = kind === undefined ? plain : z.object({ [kind]: forms[kind]! }).strict();
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue(issue as z.IssueData);
      return z.NEVER;
    }
    return parsed.data;
  }) as never;
}
