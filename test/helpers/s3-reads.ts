import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';

/** Every key under `prefix` in `bucket`, read straight from the server (not through the product's store). */
export async function listAllKeys(client: S3Client, bucket: string, prefix?: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const item of page.Contents ?? []) if (item.Key !== undefined) keys.push(item.Key);
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys;
}

/** An object's body and metadata, or undefined when there is no such key. */
export async function getObjectOrUndefined(
  client: S3Client,
  bucket: string,
  key: string,
): Promise<{ body: Buffer; metadata: Record<string, string> } | undefined> {
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const body = Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
    return { body, metadata: out.Metadata ?? {} };
  } catch (error) {
    if (error instanceof Error && error.name === 'NoSuchKey') return undefined;
    throw error;
  }
}
