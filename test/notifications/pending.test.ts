/**
 * Pending announcements (docs/adr/0030), with the SDK mocked: what register-ca's NotAnnounced
 * writes is checked as a notice and as its detail-type's detail, and ReconcileReport's delivery
 * publishes each once per cause, deletes it, leaves a malformed one in place and keeps one whose
 * publish failed. Reconciliation's listing never reads one as a receipt.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { deliverPendingNotices } from '../../functions/aws/pending-notices.ts';
import { listResultObjects } from '../../functions/aws/reconcile.ts';
import { PENDING_NOTICE_SCHEMA, pendingNoticeEvent } from '../../functions/core/events.ts';
import { emptyCounts } from '../../functions/core/reconcile.ts';
import { pendingNoticesPrefixFor } from '../../functions/core/source.ts';
import { reconcileReport } from '../../functions/reconcile-report.ts';
import { awsError } from '../fixtures/aws.ts';

const s3 = mockClient(S3Client);
const bus = mockClient(EventBridgeClient);
const BUCKET = 'ca-bucket';
const ID = 'b'.repeat(64);
const ARN = `arn:aws:iot:us-east-1:123456789012:cacert/${ID}`;
const deps = () => ({
  s3: new S3Client({}),
  events: new EventBridgeClient({}),
  bucket: BUCKET,
  resultsPrefix: 'results/',
});

/** A pending announcement as NotAnnounced writes it (the detail as Announce builds it). */
const notice = (cause: string, overrides: Record<string, unknown> = {}) => ({
  schema: PENDING_NOTICE_SCHEMA,
  detailType: 'CA Registered',
  resources: [ARN],
  detail: {
    certificateId: ID,
    certificateArn: ARN,
    certificateMode: 'DEFAULT',
    templateName: 'jitp',
    source: { bucket: BUCKET, key: 'incoming/a.pem', etag: 'e1' },
    receiptKey: 'results/incoming/a.pem.json',
    adopted: false,
    trigger: 'upload',
    replaces: null,
    drift: null,
    notAfter: '2030-01-01T00:00:00.000Z',
    executionId: 'arn:aws:states:us-east-1:123456789012:execution:register-ca:run-1',
    cause,
  },
  error: { Error: 'EventBridge.AccessDeniedException', Cause: 'denied' },
  ...overrides,
});

/** The bucket as a sorted map: ListObjectsV2 (Prefix, StartAfter, pages of 2), GET, PUT (If-None-Match), DELETE. */
const objects = new Map<string, string>();
const put = (key: string, value: unknown) =>
  objects.set(key, typeof value === 'string' ? value : JSON.stringify(value));
const pendingKeys = () => [...objects.keys()].filter((key) => key.startsWith('results/notices/pending/'));

beforeEach(() => {
  s3.reset();
  bus.reset();
  objects.clear();
  s3.on(ListObjectsV2Command).callsFake(
    (input: { Prefix?: string; StartAfter?: string; ContinuationToken?: string }) => {
      const after = input.ContinuationToken ?? input.StartAfter ?? '';
      const keys = [...objects.keys()].sort().filter((key) => key.startsWith(input.Prefix ?? '') && key > after);
      const page = keys.slice(0, 2);
      return {
        Contents: page.map((Key) => ({ Key, ETag: '"e"' })),
        IsTruncated: keys.length > 2,
        ...(keys.length > 2 ? { NextContinuationToken: page.at(-1) } : {}),
      };
    },
  );
  s3.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    const body = objects.get(input.Key);
    if (body === undefined) throw awsError('NoSuchKey', 404);
    return { Body: { transformToString: async () => body }, ETag: '"e"' };
  });
  s3.on(PutObjectCommand).callsFake((input: { Key: string; Body: string; IfNoneMatch?: string }) => {
    if (input.IfNoneMatch === '*' && objects.has(input.Key)) throw awsError('PreconditionFailed', 412);
    objects.set(input.Key, input.Body);
    return {};
  });
  s3.on(DeleteObjectCommand).callsFake((input: { Key: string }) => {
    objects.delete(input.Key);
    return {};
  });
  bus.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: '1' }] });
});

const publishedCauses = () =>
  bus
    .commandCalls(PutEventsCommand)
    .flatMap((call) => call.args[0].input.Entries ?? [])
    .map((entry) => JSON.parse(String(entry.Detail)).cause);

describe('a pending announcement', () => {
  it('holds the event Announce could not publish: its detail-type, resources and detail as written', () => {
    const written = notice('registered:x');
    expect(pendingNoticeEvent(written, 'k')).toEqual({
      detailType: 'CA Registered',
      resources: [ARN],
      detail: written.detail,
    });
    const drift = notice('drift-repaired:x', {
      detailType: 'CA Drift Repaired',
      detail: { ...written.detail, trigger: 'reconcile', drift: ['status INACTIVE'] },
    });
    expect(pendingNoticeEvent(drift, 'k').detailType).toBe('CA Drift Repaired');
  });

  it('is refused with MalformedPendingNoticeError when it is not one, or its detail breaks its schema', () => {
    const malformed = [
      { schema: 'something else' },
      notice('c', { detailType: 'CA Expiring' }),
      notice('c', { detail: { cause: 'c' } }),
      // CA Drift Repaired says what drifted.
      notice('c', { detailType: 'CA Drift Repaired' }),
      notice(''),
    ];
    for (const value of malformed)
      expect(() => pendingNoticeEvent(value, 'results/notices/pending/x.json'), JSON.stringify(value)).toThrow(
        expect.objectContaining({ name: 'MalformedPendingNoticeError' }),
      );
  });
});

describe('deliverPendingNotices', () => {
  it('publishes each pending announcement once per cause, every page of the listing, and deletes it', async () => {
    for (const name of ['r1', 'r2', 'r3'])
      put(`${pendingNoticesPrefixFor('results/')}${name}.json`, notice(`registered:${name}`));
    put('results/incoming/a.pem.json', { schema: 'iot-ca-pipeline/result@1' });
    expect(await deliverPendingNotices(deps())).toEqual({ delivered: 3, malformed: 0 });
    expect(publishedCauses()).toEqual(['registered:r1', 'registered:r2', 'registered:r3']);
    expect(bus.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0]).toMatchObject({
      Source: 'iot-ca-pipeline',
      DetailType: 'CA Registered',
      Resources: [ARN],
    });
    expect(pendingKeys()).toEqual([]);
    expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, { Bucket: BUCKET, Prefix: 'results/notices/pending/' });
    // Nothing left: the next run publishes nothing.
    expect(await deliverPendingNotices(deps())).toEqual({ delivered: 0, malformed: 0 });
    expect(publishedCauses()).toHaveLength(3);
  });

  it('deletes without publishing one whose cause was announced already (published, then not deleted)', async () => {
    put('results/notices/pending/r1.json', notice('registered:r1'));
    await deliverPendingNotices(deps());
    put('results/notices/pending/r1.json', notice('registered:r1'));
    expect(await deliverPendingNotices(deps())).toEqual({ delivered: 0, malformed: 0 });
    expect(publishedCauses()).toEqual(['registered:r1']);
    expect(pendingKeys()).toEqual([]);
  });

  it('leaves a malformed one in place, and delivers the others', async () => {
    put('results/notices/pending/a.json', 'not json');
    put('results/notices/pending/b.json', { schema: PENDING_NOTICE_SCHEMA });
    put('results/notices/pending/c.json', notice('registered:c'));
    expect(await deliverPendingNotices(deps())).toEqual({ delivered: 1, malformed: 2 });
    expect(pendingKeys()).toEqual(['results/notices/pending/a.json', 'results/notices/pending/b.json']);
  });

  it('keeps one whose publish failed, and returns a transient failure for the caller to throw', async () => {
    put('results/notices/pending/a.json', notice('registered:a'));
    put('results/notices/pending/b.json', notice('registered:b'));
    bus.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException' }] });
    const result = await deliverPendingNotices(deps());
    expect(result).toMatchObject({ delivered: 0, malformed: 0, failure: { name: 'ThrottledError' } });
    // The pass stopped at the first: both stay, and no marker claims their causes.
    expect(pendingKeys()).toHaveLength(2);
    expect([...objects.keys()].filter((key) => /notices\/[0-9a-f]{64}\.json$/.test(key))).toEqual([]);
    bus.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: '1' }] });
    expect(await deliverPendingNotices(deps())).toEqual({ delivered: 2, malformed: 0 });
  });

  it('writes one back that another run deleted while this run was publishing it, when the publish fails', async () => {
    put('results/notices/pending/a.json', notice('registered:a'));
    bus.on(PutEventsCommand).callsFake(() => {
      objects.delete('results/notices/pending/a.json');
      return { FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalException' }] };
    });
    expect((await deliverPendingNotices(deps())).failure).toMatchObject({ name: 'ServiceFaultError' });
    expect(JSON.parse(String(objects.get('results/notices/pending/a.json')))).toEqual(notice('registered:a'));
  });
});

describe('ReconcileReport', () => {
  const metrics = new Metrics({ namespace: 'IotCaPipeline', serviceName: 'test' });
  metrics.addMetric = () => metrics;
  metrics.publishStoredMetrics = () => metrics;
  const input = {
    plan: {
      runId: 'run-1',
      bucket: BUCKET,
      deep: false,
      counts: emptyCounts(),
      iotCalls: {},
      chunks: [],
      findingsKey: 'results/reconcile/run-1/findings.json',
    },
  };
  const run = () => reconcileReport({ ...deps(), metrics }, input);

  it('delivers the pending announcements and counts them in its report (announced)', async () => {
    put('results/notices/pending/a.json', notice('registered:a'));
    const report = await run();
    expect(report.announced).toBe(1);
    expect(JSON.parse(String(objects.get('results/reconcile/run-1.json')))).toMatchObject({ announced: 1 });
    expect((await run()).announced).toBe(0);
  });

  it('writes its report before it throws a transient failure to deliver, so the retry rewrites it', async () => {
    put('results/notices/pending/a.json', notice('registered:a'));
    bus.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException' }] });
    await expect(run()).rejects.toMatchObject({ name: 'ThrottledError' });
    expect(JSON.parse(String(objects.get('results/reconcile/run-1.json')))).toMatchObject({ announced: 0 });
    expect(pendingKeys()).toEqual(['results/notices/pending/a.json']);
  });

  it('reports, and throws nothing, for a malformed one', async () => {
    put('results/notices/pending/a.json', '{}');
    expect((await run()).announced).toBe(0);
    expect(pendingKeys()).toEqual(['results/notices/pending/a.json']);
  });
});

describe("reconciliation's listing of results", () => {
  it('never reads a pending announcement (nor a notice marker) as a receipt', async () => {
    put('results/incoming/a.pem.json', { schema: 'iot-ca-pipeline/result@1' });
    put('results/notices/pending/incoming/b.pem.json', notice('registered:b'));
    put('results/notices/pending/run-2.json', notice('registered:c'));
    put(`results/notices/${'0'.repeat(64)}.json`, { cause: 'x' });
    put('results/zz.json', { schema: 'iot-ca-pipeline/result@1' });
    const { results, retired } = await listResultObjects(new S3Client({}), BUCKET, 'results/');
    expect(results.map((object) => object.key)).toEqual(['results/incoming/a.pem.json', 'results/zz.json']);
    expect(retired).toEqual([]);
  });
});
