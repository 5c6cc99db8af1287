/**
 * s3rver sends no notification for DeleteObjects (POST /?delete, what `aws s3 rm --recursive`
 * and the SDK's batch delete use), where S3 sends one per object it deletes; without it, such a
 * delete would retire nothing locally. Patched for the local stack only (functions/ never loads
 * this module): each key the call deleted gets the `ObjectRemoved:Delete` notification s3rver's
 * DeleteObject sends, so the bus turns it into `Object Deleted` (s3.ts). And s3rver deleted the
 * keys all at once, so that two in one folder raced to remove it and the call failed with
 * InternalError; they are now deleted one after the other.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface Store {
  deleteObject(bucket: string, key: string): Promise<unknown>;
}
interface KoaContext {
  store: Store;
  params: { bucket: string };
  headers: Record<string, unknown>;
  ip: string;
  app: { emit(event: string, payload: unknown): void };
}

const objects = require('s3rver/lib/controllers/object') as Record<string, (ctx: KoaContext) => Promise<void>> & {
  __notifiesDeletes?: boolean;
};
const S3Event = require('s3rver/lib/models/event') as new (
  data: { bucket: string; eventType: string; S3Item: { key: string } },
  request: { reqHeaders: Record<string, unknown>; sourceIp: string },
) => unknown;

if (!objects.__notifiesDeletes) {
  const deleteMultipleObjects = objects.deleteMultipleObjects as (ctx: KoaContext) => Promise<void>;
  objects.deleteMultipleObjects = async (ctx: KoaContext) => {
    const deleted: string[] = [];
    let queue: Promise<unknown> = Promise.resolve();
    const store = ctx.store;
    // This request's view of the store records what it deletes (s3rver skips keys that do not
    // exist); every other member is the store's own, bound to it.
    ctx.store = new Proxy(store, {
      get: (target, property) => {
        if (property === 'deleteObject')
          return (bucket: string, key: string) => {
            // One at a time: s3rver deletes all keys at once, and two deletes in one folder race
            // to remove it when it empties (the call failed with InternalError).
            const result = queue.then(() => target.deleteObject(bucket, key)).then(() => void deleted.push(key));
            queue = result.catch(() => undefined);
            return result;
          };
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    try {
      await deleteMultipleObjects(ctx);
    } finally {
      ctx.store = store;
    }
    for (const key of deleted)
      ctx.app.emit(
        'event',
        new S3Event(
          { bucket: ctx.params.bucket, eventType: 'Delete', S3Item: { key } },
          { reqHeaders: ctx.headers, sourceIp: ctx.ip },
        ),
      );
  };
  objects.__notifiesDeletes = true;
}
