/**
 * s3rver's listings, made to scale (installed by s3rver-compat.ts, local stack only): every page of
 * a listing walked the bucket's folders again from the start, with a synchronous stat of each file
 * (three per object), to skip to where the page starts, so listing N keys took N/1000 walks of N
 * objects. The bucket's sorted keys are now kept once walked (readdir only), until the next write
 * or delete in the bucket, and a page starts at a binary search. Keys come in S3's order (UTF-8
 * bytes), which the per-folder walk did not give ("a/x" came before "a").
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { OBJECT_SUFFIX, S3Object, type StorePrototype } from './s3rver-store.ts';

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

/**
 * Installs the listing cache on s3rver's store: after the other patches of its writes, so that
 * each write (the atomic putObject included) invalidates the bucket's keys once it has finished.
 */
export const cacheListings = (prototype: StorePrototype): void => {
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

  prototype.listObjects = async function listObjectsFromSortedKeys(bucket, options) {
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
  prototype.putObject = bumping(prototype.putObject, (object) => object.bucket);
  prototype.deleteObject = bumping(prototype.deleteObject, (bucket) => bucket);
  prototype.copyObject = bumping(prototype.copyObject, (...args) => String(args[2]));
  prototype.putBucket = bumping(prototype.putBucket, (bucket) => bucket);
  prototype.deleteBucket = bumping(prototype.deleteBucket, (bucket) => bucket);
  const { reset } = prototype;
  prototype.reset = function resetUncached(this: object) {
    reset.call(this);
    changed(this);
  };
};
