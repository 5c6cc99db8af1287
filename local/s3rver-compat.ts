/**
 * Three places where s3rver 3.7 is less faithful to S3 than the pipeline's tests need, all
 * patched here, for the local stack only (functions/ never loads this module).
 *
 * 1. It encrypts ListObjectsV2 continuation tokens with single DES, which OpenSSL 3 (every Node
 *    since 17) refuses: listing more than 1000 keys failed with a 500. The token is opaque and
 *    local, so for the 'des' algorithm alone the cipher becomes a pass-through. Nothing else can
 *    use DES here (OpenSSL refuses it).
 * 2. S3 readers see the old object or the new one, never a part; s3rver's could see a part. It
 *    wrote an object in place (a GET racing a PUT read a truncated file), and a GET took the size
 *    from a stat made before it opened the file (a PUT landing in between cut the new, longer
 *    object to the old length: a receipt rewritten longer read as truncated JSON). Objects, their
 *    metadata and MD5 files are now written beside and renamed over the old ones, and a GET takes
 *    the size, the range and the bytes from the one file it opened.
 * 3. A ranged GET of an empty object answers 206 with a Content-Length of 1 and no body (the
 *    client sees an aborted response); S3 answers 416 InvalidRange, which is what it now does.
 *
 * And two costs:
 * - Every request read the bucket's CORS and website configuration files from disk (two failed
 *   reads when, as here, there are none). Bucket-level configuration is now kept in memory once
 *   read, and forgotten when s3rver writes or deletes it.
 * - Every page of a listing walked the bucket's folders again from the start: s3rver-listing.ts
 *   keeps each bucket's sorted keys instead (installed here, after the write patches).
 * - It logs every request through koa-logger even when `silent` (the text is built, coloured and
 *   handed to a silent winston transport): about 0.5 ms of the shared main thread per request.
 *   `withoutRequestLog` takes that middleware out of a silent server.
 *
 * Conditional writes (If-None-Match, If-Match), which s3rver predates, are in s3-conditional.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { type FileHandle, mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import './s3-conditional.ts';
import { cacheListings } from './s3rver-listing.ts';
import { FilesystemStore, S3Object } from './s3rver-store.ts';

const require = createRequire(import.meta.url);
const crypto = require('node:crypto') as typeof import('node:crypto');

/** Writes a file beside `path` and renames it over `path`: a reader sees the old file or the new one. */
const writeAtomically = async (path: string, data: string): Promise<void> => {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
};

const patched = Symbol.for('iot-ca.s3rver-compat');
const registry = crypto as unknown as Record<symbol, boolean>;
if (!registry[patched]) {
  registry[patched] = true;

  const passThrough = () => ({
    update: (data: string | Buffer, encoding?: BufferEncoding) =>
      typeof data === 'string' ? Buffer.from(data, encoding) : Buffer.from(data),
    final: () => Buffer.alloc(0),
  });
  const { createCipheriv, createDecipheriv } = crypto;
  Object.assign(crypto, {
    createCipheriv: (algorithm: string, ...rest: unknown[]) =>
      algorithm === 'des' ? passThrough() : (createCipheriv as (...args: unknown[]) => unknown)(algorithm, ...rest),
    createDecipheriv: (algorithm: string, ...rest: unknown[]) =>
      algorithm === 'des' ? passThrough() : (createDecipheriv as (...args: unknown[]) => unknown)(algorithm, ...rest),
  });

  FilesystemStore.prototype.getObject = async function getObjectWhole(bucket, key, options) {
    // The file is opened first and its size read from the open file, so the length, the range
    // and the bytes are all of one version even if a write renames a new file in meanwhile.
    let handle: FileHandle;
    try {
      handle = await open(this.getResourcePath(bucket, key, 'object'), 'r');
    } catch (error) {
      // s3rver answers a missing object with null (NoSuchKey).
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    try {
      const stat = await handle.stat();
      const metadata: Record<string, unknown> = {
        ...(await this.getMetadata(bucket, key)),
        'content-length': stat.size,
        'last-modified': stat.mtime.toUTCString(),
      };
      const ranged = options?.start !== undefined || Boolean(options?.end);
      // s3rver's range rules, and one more: any range of an empty object is unsatisfiable (416).
      const start = ranged && stat.size === 0 ? 1 : options?.start || 0;
      const end = Math.min(options?.end || Number.POSITIVE_INFINITY, Math.max(0, stat.size - 1));
      const unsatisfiable = start < 0 || end < start;
      const object = new S3Object(
        bucket,
        key,
        unsatisfiable ? null : handle.createReadStream({ start, end }),
        metadata as Record<string, string>,
      ) as { range?: { start: number; end: number } };
      if (ranged) object.range = { start, end };
      if (unsatisfiable) await handle.close();
      return object;
    } catch (error) {
      await handle.close();
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  };

  // s3rver writes an object's metadata and MD5 files in place: a read racing the write could parse
  // an empty file (a 500). Each is now written beside and renamed over the old one.
  FilesystemStore.prototype.putMetadata = async function putMetadataAtomically(bucket, key, metadata, md5) {
    // What s3rver keeps: the allowed headers and the user's x-amz-meta-* ones.
    const json = Object.fromEntries(
      Object.entries(metadata as Record<string, unknown>).filter(
        ([name]) => S3Object.ALLOWED_METADATA.includes(name) || name.startsWith('x-amz-meta-'),
      ),
    );
    if (md5) await writeAtomically(this.getResourcePath(bucket, key, 'object.md5'), md5);
    await writeAtomically(this.getResourcePath(bucket, key, 'metadata.json'), JSON.stringify(json, null, 2));
  };

  const { getSubresource, putSubresource, deleteSubresource } = FilesystemStore.prototype;
  const bucketConfig = new WeakMap<object, Map<string, Promise<unknown>>>();
  const configOf = (store: object): Map<string, Promise<unknown>> => {
    const cache = bucketConfig.get(store) ?? new Map<string, Promise<unknown>>();
    bucketConfig.set(store, cache);
    return cache;
  };
  FilesystemStore.prototype.getSubresource = function getSubresourceCached(bucket, key, type) {
    if (key !== undefined) return getSubresource.call(this, bucket, key, type);
    const cache = configOf(this);
    const id = `${bucket}\n${type}`;
    let config = cache.get(id);
    if (!config) {
      config = getSubresource.call(this, bucket, key, type);
      cache.set(id, config);
      // A failed read is not remembered.
      config.catch(() => cache.delete(id));
    }
    return config;
  };
  FilesystemStore.prototype.putSubresource = async function putSubresourceUncached(bucket, key, resource) {
    configOf(this).delete(`${bucket}\n${resource.type}`);
    await putSubresource.call(this, bucket, key, resource);
    configOf(this).delete(`${bucket}\n${resource.type}`);
  };
  FilesystemStore.prototype.deleteSubresource = async function deleteSubresourceUncached(bucket, key, type) {
    configOf(this).delete(`${bucket}\n${type}`);
    await deleteSubresource.call(this, bucket, key, type);
    configOf(this).delete(`${bucket}\n${type}`);
  };

  FilesystemStore.prototype.putObject = async function putObjectAtomically(object) {
    const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(dirname(objectPath), { recursive: true });
    const tmp = `${objectPath}.${randomBytes(6).toString('hex')}.tmp`;
    const md5 = createHash('md5');
    let size = 0;
    try {
      const source = Buffer.isBuffer(object.content) ? [object.content] : object.content;
      await pipeline(
        source as Readable,
        new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            md5.update(chunk);
            size += chunk.length;
            callback(null, chunk);
          },
        }),
        createWriteStream(tmp),
      );
      await rename(tmp, objectPath);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    const digest = md5.digest('hex');
    await this.putMetadata(object.bucket, object.key, object.metadata, digest);
    return { size, md5: digest };
  };

  cacheListings(FilesystemStore.prototype);
}

/**
 * Removes the request logger s3rver installs even when `silent` (koa-logger's \`logger\` middleware):
 * it formats every request and response for a transport that drops them. Errors still reach
 * s3rver's own logger. Only for a silent server, before `run()` composes the middleware.
 */
export const withoutRequestLog = <T extends { middleware: unknown[] }>(server: T): T => {
  const index = server.middleware.findIndex((middleware) => (middleware as { name?: string }).name === 'logger');
  if (index === -1) throw new Error('s3rver no longer installs koa-logger first: revisit withoutRequestLog.');
  server.middleware.splice(index, 1);
  return server;
};
