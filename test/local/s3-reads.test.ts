/**
 * The local S3 store's reads racing writes, made deterministic: a PUT lands at the worst moment of
 * a GET (after it has read the object's metadata, before it sends a byte). S3 serves one version
 * whole; s3rver's own GET took the size before opening the file and cut the new object short.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import '../../local/s3rver-compat.ts';

const require = createRequire(import.meta.url);

interface Stored {
  content: Readable | null;
  metadata: Record<string, string>;
  range?: { start: number; end: number };
}
interface Store {
  putBucket(bucket: string): Promise<unknown>;
  putObject(object: {
    bucket: string;
    key: string;
    content: Buffer;
    metadata: Record<string, string>;
  }): Promise<unknown>;
  getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<Stored | null>;
  getMetadata(bucket: string, key: string): Promise<Record<string, string>>;
}
const FilesystemStore = require('s3rver/lib/stores/filesystem') as new (root: string) => Store;

const text = async (stream: Readable | null): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream ?? []) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
};

let root: string;
let store: Store;
const put = (key: string, body: string, type = 'application/json') =>
  store.putObject({ bucket: 'b', key, content: Buffer.from(body), metadata: { 'content-type': type } });

/** Makes the next metadata read of `key` finish only after `write` has landed. */
const writeDuringNextRead = (key: string, write: () => Promise<unknown>) => {
  const { getMetadata } = Object.getPrototypeOf(store) as Store;
  let armed = true;
  store.getMetadata = async function (bucket, name) {
    const metadata = await getMetadata.call(this, bucket, name);
    if (armed && name === key) {
      armed = false;
      await write();
    }
    return metadata;
  };
};

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 's3-reads-'));
  store = new FilesystemStore(root);
  await store.putBucket('b');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('local S3 reads racing writes', () => {
  const short = JSON.stringify({ phase: 'retired' });
  const long = JSON.stringify({ phase: 'final', revoked: { count: 1, complete: true }, padding: 'x'.repeat(500) });

  it('a GET whose object is rewritten longer mid-read serves the old version whole, with its length', async () => {
    await put('receipt.json', short);
    writeDuringNextRead('receipt.json', () => put('receipt.json', long));
    const object = await store.getObject('b', 'receipt.json');
    const body = await text(object?.content ?? null);
    expect(body).toBe(short);
    expect(Number(object?.metadata['content-length'])).toBe(short.length);
    // The write landed: the next GET serves the new version whole.
    const after = await store.getObject('b', 'receipt.json');
    expect(JSON.parse(await text(after?.content ?? null))).toMatchObject({ phase: 'final' });
  });

  it('a ranged GET is cut from the version it opened, and the Content-Range counts that version', async () => {
    await put('range.txt', 'abcdefghij', 'text/plain');
    writeDuringNextRead('range.txt', () => put('range.txt', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'text/plain'));
    const object = await store.getObject('b', 'range.txt', { start: 5 });
    expect(await text(object?.content ?? null)).toBe('fghij');
    expect(object?.range).toEqual({ start: 5, end: 9 });
    expect(Number(object?.metadata['content-length'])).toBe(10);
  });

  it('answers a ranged GET of an empty object as unsatisfiable, and a missing key as null', async () => {
    await put('empty', '', 'text/plain');
    const empty = await store.getObject('b', 'empty', { start: 0 });
    expect(empty?.content).toBeNull();
    expect(empty?.range).toBeDefined();
    expect(await text((await store.getObject('b', 'empty'))?.content ?? null)).toBe('');
    expect(await store.getObject('b', 'missing')).toBeNull();
  });

  it('keeps only the headers S3 keeps, and leaves no temporary file beside the object', async () => {
    await store.putObject({
      bucket: 'b',
      key: 'meta',
      content: Buffer.from('x'),
      metadata: { 'content-type': 'text/plain', 'x-amz-meta-owner': 'ops', 'x-forwarded-for': '10.0.0.1' },
    });
    const metadata = await store.getMetadata('b', 'meta');
    expect(metadata).toMatchObject({ 'content-type': 'text/plain', 'x-amz-meta-owner': 'ops', 'content-length': 1 });
    expect(metadata).not.toHaveProperty('x-forwarded-for');
    expect(readdirSync(join(root, 'b')).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});
