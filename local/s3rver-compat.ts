/**
 * Three places where s3rver 3.7 is less faithful to S3 than the pipeline's tests need, all
 * patched here, for the local stack only (functions/ never loads this module).
 *
 * 1. It encrypts ListObjectsV2 continuation tokens with single DES, which OpenSSL 3 (every Node
 *    since 17) refuses: listing more than 1000 keys failed with a 500. The token is opaque and
 *    local, so for the 'des' algorithm alone the cipher becomes a pass-through. Nothing else can
 *    use DES here (OpenSSL refuses it).
 * 2. It writes an object in place, so a GET racing a PUT of the same key could read a truncated
 *    file; S3 readers see the old object or the new one, never a part. Objects are now written to
 *    a temporary file and renamed over the old one.
 * 3. A ranged GET of an empty object answers 206 with a Content-Length of 1 and no body (the
 *    client sees an aborted response); S3 answers 416 InvalidRange, which is what it now does.
 *
 * And one cost: every request read the bucket's CORS and website configuration files from disk
 * (two failed reads when, as here, there are none). Bucket-level configuration is now kept in
 * memory once read, and forgotten when s3rver writes or deletes it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

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
    getMetadata(bucket: string, key: string): Promise<Record<string, string>>;
    getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<unknown>;
    getSubresource(bucket: string, key: string | undefined, type: string): Promise<unknown>;
    putSubresource(bucket: string, key: string | undefined, resource: { type: string }): Promise<void>;
    deleteSubresource(bucket: string, key: string | undefined, type: string): Promise<void>;
  };
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

  const { getObject } = FilesystemStore.prototype;
  FilesystemStore.prototype.getObject = async function getObjectEmptyRange(bucket, key, options) {
    if (options?.start !== undefined) {
      // One stat, not a second metadata read (three file reads) on every ranged GET.
      const size = await stat(this.getResourcePath(bucket, key, 'object')).then(
        (stats) => stats.size,
        () => undefined,
      );
      // start past the last byte: s3rver's own "range not satisfiable" path, hence 416.
      if (size === 0) return getObject.call(this, bucket, key, { start: 1 });
    }
    return getObject.call(this, bucket, key, options);
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
}
