import { z } from 'zod';

const checksumMode = z.enum(['WHEN_SUPPORTED', 'WHEN_REQUIRED'], {
  errorMap: () => ({ message: 'expected "WHEN_SUPPORTED" or "WHEN_REQUIRED"' }),
});

/** A folder inside the bucket or directory: relative, `/`-separated, no `.`/`..` segments. */
const prefix = z
  .string()
  .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), {
    message: 'must not contain "." or ".." segments',
  })
  .refine((p) => !p.includes('\\') && !p.includes('\0'), { message: 'must not contain backslashes or NUL' });

// Lenient on purpose: AWS, OSS and OBS naming rules differ in details (dots, length); the
// server has the last word, this only catches obvious typos before anything starts.
const bucket = z.string().regex(/^[a-z0-9][a-z0-9.\-_]{1,253}[a-z0-9]$/, {
  message: 'expected a bucket name: 3-255 lowercase letters, digits, ".", "-" or "_"',
});

const endpoint = z
  .string()
  .url({ message: 'expected a URL such as http://127.0.0.1:9000' })
  .refine((u) => /^https?:\/\//i.test(u), { message: 'expected an http:// or https:// URL' })
  .refine(
    (u) => {
      const url = new URL(u);
      return url.username === '' && url.password === '';
    },
    { message: 'must not carry credentials; use the SDK credential chain (AWS_ACCESS_KEY_ID, ...)' },
  );

/** `storage` with `kind: s3`: AWS S3 or an S3-compatible server. */
export const s3StorageConfigSchema = z
  .object({
    kind: z.literal('s3'),
    bucket,
    prefix: prefix.optional(),
    region: z.string({ required_error: 'required for kind "s3" (any value, e.g. us-east-1, for most S3-compatible servers)' }).min(1),
    endpoint: endpoint.optional(),
    forcePathStyle: z.boolean().optional(),
    requestChecksumCalculation: checksumMode.optional(),
    responseChecksumValidation: checksumMode.optional(),
    /** How create-only writes are arbitrated; see S3ObjectStoreOptions.conditionalWrites. @defaultValue auto */
    conditionalWrites: z
      .enum(['auto', 'native', 'versions', 'emulate'], {
        errorMap: () => ({ message: 'expected "auto", "native", "versions" or "emulate"' }),
      })
      .optional(),
    /** WORM retention on every object written; refuses to start when the bucket lacks Object Lock. */
    objectLock: z
      .object({
        mode: z.enum(['COMPLIANCE', 'GOVERNANCE'], { errorMap: () => ({ message: 'expected "COMPLIANCE" or "GOVERNANCE"' }) }),
        retainDays: z.number().int().min(1).max(36_500),
      })
      .strict()
      .optional(),
  })
  .strict();

/** `storage` with `kind: file`: a local or mounted directory. */
export const fileStorageConfigSchema = z
  .object({
    kind: z.literal('file'),
    path: z.string({ required_error: 'required for kind "file": the archive directory' }).min(1),
    prefix: prefix.optional(),
  })
  .strict();

/** The `storage` section of the config file; `kind` selects the store. */
export const storageConfigSchema = z.discriminatedUnion('kind', [s3StorageConfigSchema, fileStorageConfigSchema], {
  errorMap: (issue, ctx) =>
    issue.code === z.ZodIssueCode.invalid_union_discriminator ? { message: 'expected kind "s3" or "file"' } : { message: ctx.defaultError },
});

export type S3StorageConfig = z.infer<typeof s3StorageConfigSchema>;
export type FileStorageConfig = z.infer<typeof fileStorageConfigSchema>;
/** The parsed `storage` section. */
export type StorageConfig = z.infer<typeof storageConfigSchema>;
