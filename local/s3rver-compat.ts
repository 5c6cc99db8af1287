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
 * - Every page of a listing walked the bucket's folders again from the start, with a synchronous
 *   stat of each file (three per object), to skip to where the page starts: listing N keys took
 *   N/1000 walks of N objects. The bucket's sorted keys are now kept once walked (readdir only),
 *   until the next write or delete in the bucket, and a page starts at a binary search. Keys come
 *   in S3's order (UTF-8 bytes), which the per-folder walk did not give ("a/x" came before "a").
 * - It logs every request through koa-logger even when `silent` (the text is built, coloured and
 *   handed to a silent winston transport): about 0.5 ms of the shared main thread per request.
 *   `withoutRequestLog` takes that middleware out of a silent server.
 *
 * Conditional writes (If-None-Match, If-Match), which s3rver predates, are in s3-conditional.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import './s3-conditional.ts';

const require = createRequire(import.meta.url);
const crypto = require('node:crypto') as typeof import('node:crypto');
const FilesystemStore = require('s3rver/lib/stores/filesystem') as {
  prototype: {
    getResourcePath(bucket: string, key: string, resource: string): string;
    putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
    putObject(object: {
      bucket: string;
      key: string;
      content: Buffer | Readable;
      metadata: unknown;
    }): Promise<{ size: number; md5: string }>;
    getBucketPath(bucket: string): string;
    getMetadata(bucket: string, key: string): Promise<Record<string, string>>;
    listObjects(bucket: string, options: ListOptions): Promise<unknown>;
    deleteObject(bucket: string, key: string): Promise<void>;
    copyObject(...args: unknown[]): Promise<unknown>;
    putBucket(bucket: string): Promise<unknown>;
    deleteBucket(bucket: string): Promise<unknown>;
    reset(): void;
    getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<unknown>;
    getSubresource(bucket: string, key: string | undefined, type: string): Promise<unknown>;
    putSubresource(bucket: string, key: string | undefined, resource: { type: string }): Promise<void>;
    deleteSubresource(bucket: string, key: string | undefined, type: string): Promise<void>;
  };
};

const S3Object = require('s3rver/lib/models/object') as {
  new (bucket: string, key: string, content: Readable | null, metadata: Record<string, string>): unknown;
  ALLOWED_METADATA: string[];
};
interface ListOptions {
  delimiter?: string;
  startAfter?: string;
  prefix?: string;
  maxKeys?: number;
}
/** s3rver's file names: `<key>._S3rver_object` beside `._S3rver_metadata.json` and `._S3rver_object.md5`. */
const OBJECT_SUFFIX = '._S3rver_object';

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

/** Every object key under a bucket's folder, in S3's order (UTF-8 bytes). */
const walkKeys = async (bucketPath: string): Promise<string[]> => {
  const keys: string[] = [];
  const visit = async (dir: string, prefix: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    for (const entry of entries) {
      if (entry.isDirectory()) await visit(join(dir, entry.name), `${prefix}${entry.name}/`);
      else if (entry.name.endsWith(OBJECT_SUFFIX)) keys.push(prefix + entry.name.slice(0, -OBJECT_SUFFIX.length));
    }
  };
  await visit(bucketPath, '');
  return keys
    .map((key) => ({ key, bytes: Buffer.from(key) }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map(({ key }) => key);
};

/** The first index whose key sorts after `target` (or at it, `inclusive`), in UTF-8 byte order. */
const searchKeys = (keys: string[], target: string, inclusive = false): number => {
  const bytes = Buffer.from(target);
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const order = Buffer.compare(Buffer.from(keys[mid] as string), bytes);
    if (order < 0 || (order === 0 && !inclusive)) low = mid + 1;
    else high = mid;
  }
  return low;
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

  // The listing cache: a bucket's sorted keys, valid while its generation is unchanged. A write or
  // delete bumps the generation when it has finished, so a walk that overlapped it is not kept.
  const listings = new WeakMap<object, Map<string, { generation: number; keys: Promise<string[]> }>>();
  const generations = new WeakMap<object, Map<string, number>>();
  const generationOf = (store: object, bucket: string): number => generations.get(store)?.get(bucket) ?? 0;
  const changed = (store: object, bucket?: string) => {
    const byBucket = generations.get(store) ?? new Map<string, number>();
    generations.set(store, byBucket);
    if (bucket === undefined) {
      for (const name of byBucket.keys()) byBucket.set(name, (byBucket.get(name) ?? 0) + 1);
      listings.delete(store);
    } else {
      byBucket.set(bucket, generationOf(store, bucket) + 1);
      listings.get(store)?.delete(bucket);
    }
  };
  const sortedKeys = function (this: { getBucketPath(bucket: string): string }, bucket: string) {
    const cache = listings.get(this) ?? new Map<string, { generation: number; keys: Promise<string[]> }>();
    listings.set(this, cache);
    const generation = generationOf(this, bucket);
    const cached = cache.get(bucket);
    if (cached && cached.generation === generation) return cached.keys;
    const keys = walkKeys(this.getBucketPath(bucket));
    const forget = () => {
      if (cache.get(bucket)?.keys === keys) cache.delete(bucket);
    };
    keys.then(() => {
      if (generationOf(this, bucket) !== generation) forget();
    }, forget);
    cache.set(bucket, { generation, keys });
    return keys;
  };

  FilesystemStore.prototype.listObjects = async function listObjectsFromSortedKeys(bucket, options) {
    const { delimiter = '', startAfter = '', prefix = '', maxKeys = Number.POSITIVE_INFINITY } = options;
    const all = await sortedKeys.call(this, bucket);
    const commonPrefixes = new Set<string>();
    const keys: string[] = [];
    let isTruncated = false;
    // Keys are sorted: the page starts after startAfter and at the prefix, and ends with the prefix.
    for (let i = Math.max(searchKeys(all, startAfter), searchKeys(all, prefix, true)); i < all.length; i++) {
      const key = all[i] as string;
      if (!key.startsWith(prefix)) break;
      if (delimiter) {
        const at = key.indexOf(delimiter, prefix.length);
        if (at !== -1) {
          // s3rver's rule, kept: common prefixes are gathered, only keys count towards maxKeys.
          commonPrefixes.add(key.slice(0, at + delimiter.length));
          continue;
        }
      }
      if (keys.length < maxKeys) keys.push(key);
      else {
        isTruncated = true;
        break;
      }
    }
    const metadata = await Promise.all(
      keys.map((key) =>
        this.getMetadata(bucket, key).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return undefined;
          throw error;
        }),
      ),
    );
    return {
      objects: keys.flatMap((key, n) => (metadata[n] ? [new S3Object(bucket, key, null, metadata[n])] : [])),
      commonPrefixes: [...commonPrefixes].sort(),
      isTruncated,
    };
  };

  const bumping = <A extends unknown[], R>(
    method: (this: object, ...args: A) => Promise<R>,
    bucketOf: (...args: A) => string | undefined,
  ) =>
    async function (this: object, ...args: A): Promise<R> {
      try {
        return await method.apply(this, args);
      } finally {
        changed(this, bucketOf(...args));
      }
    };
  const store = FilesystemStore.prototype;
  store.putObject = bumping(store.putObject, (object) => object.bucket);
  store.deleteObject = bumping(store.deleteObject, (bucket) => bucket);
  store.copyObject = bumping(store.copyObject, (...args) => String(args[2]));
  store.putBucket = bumping(store.putBucket, (bucket) => bucket);
  store.deleteBucket = bumping(store.deleteBucket, (bucket) => bucket);
  const { reset } = store;
  store.reset = function resetUncached(this: object) {
    reset.call(this);
    changed(this);
  };
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
