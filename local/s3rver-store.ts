/**
 * s3rver 3.7's filesystem store and object model, typed for the patches of s3rver-compat.ts and
 * s3rver-listing.ts (the local stack only; functions/ never loads this module).
 */
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';

const require = createRequire(import.meta.url);

export interface StorePrototype {
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
}

export const FilesystemStore = require('s3rver/lib/stores/filesystem') as { prototype: StorePrototype };

export const S3Object = require('s3rver/lib/models/object') as {
  new (bucket: string, key: string, content: Readable | null, metadata: Record<string, string>): unknown;
  ALLOWED_METADATA: string[];
};
export interface ListOptions {
  delimiter?: string;
  startAfter?: string;
  prefix?: string;
  maxKeys?: number;
}
/** s3rver's file names: `<key>._S3rver_object` beside `._S3rver_metadata.json` and `._S3rver_object.md5`. */
export const OBJECT_SUFFIX = '._S3rver_object';
