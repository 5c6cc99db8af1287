import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type GetObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { awsCall, awsErrorName, SDK_MAX_ATTEMPTS } from './sdk-errors.ts';
import { PipelineError } from '../core/errors.ts';
import { MAX_PEM_CHARS } from '../core/pem.ts';
import { bareEtag, keyCandidates, type ObjectRef } from '../core/source.ts';

export const createS3Client = (): S3Client => new S3Client({ maxAttempts: SDK_MAX_ATTEMPTS });

export interface SmallObject {
  text: string;
  /** The whole object's size in bytes (from Content-Range), whatever part was read. */
  size: number;
  versionId?: string;
  etag?: string;
  /** User metadata (x-amz-meta-*), keys lower-case without the prefix. */
  metadata: Record<string, string>;
}

const NOT_FOUND = new Set(['NotFound', 'NoSuchKey', 'NoSuchVersion']);

/** The object (or the version asked for) does not exist. */
export const isMissingObject = (error: unknown): boolean => NOT_FOUND.has(awsErrorName(error) ?? '');

// A UTF-8 BOM and CRLF line ends are accepted, so allow a little over the character limit in bytes;
// the character count is checked exactly once the text is decoded.
const MAX_OBJECT_BYTES = MAX_PEM_CHARS + 4;

/**
 * Reads a small text object in one ranged GET: never more than the limit plus one byte, so an
 * oversized object is refused without being read whole, and its size, version, ETag and
 * metadata come with the same response (no HEAD round trip). Undefined when there is no object.
 */
export const getSmallObject = async (s3: S3Client, ref: ObjectRef): Promise<SmallObject | undefined> => {
  let response: GetObjectCommandOutput;
  try {
    response = await awsCall('GetObject', () =>
      s3.send(
        new GetObjectCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          Range: `bytes=0-${MAX_OBJECT_BYTES}`,
          ...(ref.versionId ? { VersionId: ref.versionId } : {}),
        }),
      ),
    );
  } catch (error) {
    if (isMissingObject(error)) return undefined;
    // S3 answers a ranged GET of an empty object with 416: there is nothing to read.
    if (awsErrorName(error) === 'InvalidRange') return { text: '', size: 0, metadata: {} };
    throw error;
  }
  const size = Number(/\/(\d+)$/.exec(response.ContentRange ?? '')?.[1] ?? response.ContentLength ?? 0);
  if (size > MAX_OBJECT_BYTES) {
    await response.Body?.transformToByteArray().catch(() => undefined);
    throw new PipelineError(
      'ObjectTooLargeError',
      `s3://${ref.bucket}/${ref.key} is ${size} bytes; the limit is ${MAX_PEM_CHARS} characters.`,
    );
  }
  const bytes = (await response.Body?.transformToByteArray()) ?? new Uint8Array();
  return {
    text: new TextDecoder('utf-8').decode(bytes),
    size,
    ...(response.VersionId ? { versionId: response.VersionId } : {}),
    ...(response.ETag ? { etag: response.ETag } : {}),
    metadata: response.Metadata ?? {},
  };
};

/**
 * The object an execution input names, as it is in the bucket: the key as written or URL-decoded
 * (keyCandidates), with its version and ETag. Undefined when neither exists (deleted since).
 */
export const resolveObject = async (s3: S3Client, ref: ObjectRef): Promise<ObjectRef | undefined> => {
  for (const key of keyCandidates(ref.key)) {
    try {
      const head = await awsCall('HeadObject', () =>
        s3.send(
          new HeadObjectCommand({
            Bucket: ref.bucket,
            Key: key,
            ...(ref.versionId ? { VersionId: ref.versionId } : {}),
          }),
        ),
      );
      const etag = bareEtag(head.ETag);
      const versionId = head.VersionId ?? ref.versionId;
      return { bucket: ref.bucket, key, ...(versionId ? { versionId } : {}), ...(etag ? { etag } : {}) };
    } catch (error) {
      if (!isMissingObject(error)) throw error;
    }
  }
  return undefined;
};

export const getJson = async <T>(s3: S3Client, bucket: string, key: string): Promise<T> => {
  const response = await awsCall('GetObject', () => s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
  return JSON.parse(await (response.Body as { transformToString(): Promise<string> }).transformToString()) as T;
};

/** A JSON object of the bucket; undefined when there is none. */
export const findJson = <T>(s3: S3Client, bucket: string, key: string): Promise<T | undefined> =>
  getJson<T>(s3, bucket, key).catch((error: unknown) => (isMissingObject(error) ? undefined : Promise.reject(error)));

/** For `.catch`: an object that is not JSON (written by hand?) is read as nothing, not as a failure. */
export const skipNotJson = (error: unknown): Promise<undefined> =>
  error instanceof SyntaxError ? Promise.resolve(undefined) : Promise.reject(error);

export const putJson = async (s3: S3Client, bucket: string, key: string, body: unknown): Promise<void> => {
  await awsCall('PutObject', () =>
    s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: `${JSON.stringify(body, null, 2)}\n`,
        ContentType: 'application/json',
      }),
    ),
  );
};
