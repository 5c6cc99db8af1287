/**
 * Conditional writes, which s3rver 3.7 predates and S3 has supported since 2024: a PutObject with
 * `If-None-Match: *` succeeds only if no object has the key, and one with `If-Match: <ETag>` only if
 * the object's ETag is that one; otherwise S3 answers 412 PreconditionFailed (404 NoSuchKey for
 * If-Match on a missing key). S3 accepts no other If-None-Match value on a write (501
 * NotImplemented). Writes to one key are decided one at a time, so of two racing creates exactly
 * one wins, as on S3. The pipeline claims "once per cause" work with this (retire-ca, notices).
 *
 * Installed by local/s3rver-compat.ts: s3rver's router calls the object controller's `putObject`
 * through its module export, which is wrapped here.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface PutContext {
  params: { bucket: string; key: string };
  headers: Record<string, string | string[] | undefined>;
  store: {
    existsObject(bucket: string, key: string): Promise<boolean>;
    getMetadata(bucket: string, key: string): Promise<Record<string, string>>;
  };
}

const objectController = require('s3rver/lib/controllers/object') as {
  putObject(ctx: PutContext): Promise<void>;
};
const S3Error = require('s3rver/lib/models/error') as new (
  code: string,
  message: string,
  detail?: Record<string, string>,
) => Error;

const header = (ctx: PutContext, name: string): string | undefined => {
  const value = ctx.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** The tail of each key's chain of conditional writes: one decided at a time. */
const tails = new Map<string, Promise<unknown>>();

const serialized = async <T>(id: string, work: () => Promise<T>): Promise<T> => {
  const previous = tails.get(id) ?? Promise.resolve();
  const run = previous.then(work, work);
  const tail = run.catch(() => undefined);
  tails.set(id, tail);
  try {
    return await run;
  } finally {
    if (tails.get(id) === tail) tails.delete(id);
  }
};

const unquote = (etag: string): string => etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');

const checkPreconditions = async (ctx: PutContext, ifNoneMatch?: string, ifMatch?: string): Promise<void> => {
  const { bucket, key } = ctx.params;
  const exists = await ctx.store.existsObject(bucket, key);
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*')
      throw new S3Error('NotImplemented', 'A header you provided implies functionality that is not implemented', {
        Header: 'If-None-Match',
      });
    if (exists)
      throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
        Condition: 'If-None-Match',
      });
  }
  if (ifMatch !== undefined) {
    if (!exists) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key });
    const { etag = '' } = await ctx.store.getMetadata(bucket, key);
    if (unquote(etag) !== unquote(ifMatch))
      throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
        Condition: 'If-Match',
      });
  }
};

const { putObject } = objectController;
objectController.putObject = async function conditionalPutObject(ctx: PutContext): Promise<void> {
  const ifNoneMatch = header(ctx, 'if-none-match');
  const ifMatch = header(ctx, 'if-match');
  if (ifNoneMatch === undefined && ifMatch === undefined) return putObject(ctx);
  return serialized(`${ctx.params.bucket}/${ctx.params.key}`, async () => {
    await checkPreconditions(ctx, ifNoneMatch, ifMatch);
    await putObject(ctx);
  });
};
