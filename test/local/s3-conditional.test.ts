/** The local S3's conditional writes: S3's If-None-Match and If-Match on PutObject. */
import { describe, expect, it } from 'vitest';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { useLocalStack } from '../fixtures/stack.ts';

const local = useLocalStack();

const put = (key: string, body: string, condition: { IfNoneMatch?: string; IfMatch?: string }) =>
  local.s3.send(new PutObjectCommand({ Bucket: local.stack.bucket, Key: key, Body: body, ...condition }));

const read = async (key: string) =>
  (await local.s3.send(new GetObjectCommand({ Bucket: local.stack.bucket, Key: key }))).Body?.transformToString();

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: { name?: string; $metadata?: { httpStatusCode?: number } }) => ({
      name: error.name,
      status: error.$metadata?.httpStatusCode,
    }),
  );

describe('local S3 conditional writes', () => {
  it('creates with If-None-Match: * only when the key is free', async () => {
    await put('conditional/claim', 'first', { IfNoneMatch: '*' });
    expect(await failure(put('conditional/claim', 'second', { IfNoneMatch: '*' }))).toEqual({
      name: 'PreconditionFailed',
      status: 412,
    });
    expect(await read('conditional/claim')).toBe('first');
  });

  it('lets exactly one of many racing creates win', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, n) => failure(put('conditional/race', `writer ${n}`, { IfNoneMatch: '*' }))),
    );
    const winners = outcomes.flatMap((outcome, n) => (outcome === undefined ? [n] : []));
    expect(winners).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome?.name === 'PreconditionFailed')).toHaveLength(11);
    expect(await read('conditional/race')).toBe(`writer ${winners[0]}`);
  });

  it('replaces with If-Match only the version it names', async () => {
    const first = await put('conditional/swap', 'v1', {});
    const second = await put('conditional/swap', 'v2', { IfMatch: first.ETag as string });
    expect(await failure(put('conditional/swap', 'v3', { IfMatch: first.ETag as string }))).toEqual({
      name: 'PreconditionFailed',
      status: 412,
    });
    expect(await read('conditional/swap')).toBe('v2');
    expect(second.ETag).not.toBe(first.ETag);
    expect(await failure(put('conditional/none', 'x', { IfMatch: first.ETag as string }))).toMatchObject({
      name: 'NoSuchKey',
      status: 404,
    });
  });

  it('refuses If-None-Match values S3 does not implement for writes', async () => {
    expect(await failure(put('conditional/etag', 'x', { IfNoneMatch: '"abc"' }))).toEqual({
      name: 'NotImplemented',
      status: 501,
    });
  });
});
