import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { awsCall, awsErrorName, SDK_MAX_ATTEMPTS } from './aws-errors.ts';
import { PipelineError } from './errors.ts';
import { MAX_PEM_CHARS } from './pem.ts';
import type { ObjectRef } from './source.ts';

export const createS3Client = (): S3Client => new S3Client({ maxAttempts: SDK_MAX_ATTEMPTS });

export interface ObjectHead {
  size: number;
  versionId?: string;
  etag?: string;
  /** User metadata (x-amz-meta-*), keys lower-case without the prefix. */
  metadata: Record<string, string>;
}

const NOT_FOUND = new Set(['NotFound', 'NoSuchKey', 'NoSuchVersion']);

export const headObject = async (s3: S3Client, ref: ObjectRef): Promise<ObjectHead | undefined> => {
  try {
    const head = await awsCall('HeadObject', () =>
      s3.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key, ...(ref.versionId ? { VersionId: ref.versionId } : {}) })),
    );
    return {
      size: head.ContentLength ?? 0,
      ...(head.VersionId ? { versionId: head.VersionId } : {}),
      ...(head.ETag ? { etag: head.ETag } : {}),
      metadata: head.Metadata ?? {},
    };
  } catch (error) {
    if (NOT_FOUND.has(awsErrorName(error) ?? '')) return undefined;
    throw error;
  }
};

// A UTF-8 BOM and CRLF line ends are accepted, so allow a little over the character limit in bytes;
// the character count is checked exactly once the text is decoded.
const MAX_OBJECT_BYTES = MAX_PEM_CHARS + 4;

/**
 * Reads a small text object. The size is checked from the HEAD before any byte is read, and the
 * GET is ranged, so an oversized object (or one swapped for a large one in between) is never
 * read whole.
 */
export const readSmallObject = async (s3: S3Client, ref: ObjectRef, head: ObjectHead): Promise<string> => {
  if (head.size > MAX_OBJECT_BYTES) {
    throw new PipelineError('ObjectTooLargeError', `s3://${ref.bucket}/${ref.key} is ${head.size} bytes; the limit is ${MAX_PEM_CHARS} characters.`);
  }
  // S3 answers a ranged GET of an empty object with 416 InvalidRange: there is nothing to read.
  if (head.size === 0) return '';
  try {
    const response = await awsCall('GetObject', () =>
      s3.send(
        new GetObjectCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          Range: `bytes=0-${MAX_OBJECT_BYTES}`,
          ...((head.versionId ?? ref.versionId) ? { VersionId: head.versionId ?? ref.versionId } : {}),
        }),
      ),
    );
    const bytes = await (response.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
    if (bytes.length > MAX_OBJECT_BYTES) {
      throw new PipelineError('ObjectTooLargeError', `s3://${ref.bucket}/${ref.key} grew over the limit of ${MAX_PEM_CHARS} characters while it was read.`);
    }
    return new TextDecoder('utf-8').decode(bytes);
  } catch (error) {
    if (NOT_FOUND.has(awsErrorName(error) ?? '')) {
      throw new PipelineError('ObjectNotFoundError', `s3://${ref.bucket}/${ref.key} was deleted before it could be read.`, { cause: error });
    }
    throw error;
  }
};

export const putJson = async (s3: S3Client, bucket: string, key: string, body: unknown): Promise<void> => {
  await awsCall('PutObject', () =>
    s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: `${JSON.stringify(body, null, 2)}\n`, ContentType: 'application/json' }),
    ),
  );
};
