/**
 * The adapters and pure parts behind "each notification once per cause" (docs/adr/0028), with the
 * SDK mocked: the notice claim, its release when a publish fails, the failure and expiry details.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { noticeKeyFor, publishOncePerCause } from '../../functions/aws/notices.ts';
import type { PipelineEvent } from '../../functions/core/events.ts';
import { buildFailureReport } from '../../functions/core/results.ts';
import { announcementFor } from '../../functions/load-certificate.ts';
import { recordResult } from '../../functions/record-result.ts';
import { failureKind, registrationFailedDetail } from '../../functions/core/events.ts';
import { expiringEvents } from '../../functions/reconcile-report.ts';
import { resolveOptions } from '../../functions/core/options.ts';
import type { Finding } from '../../functions/core/reconcile.ts';
import { awsError } from '../fixtures/aws.ts';

const s3 = mockClient(S3Client);
const bus = mockClient(EventBridgeClient);
const deps = () => ({
  s3: new S3Client({}),
  events: new EventBridgeClient({}),
  bucket: 'ca-bucket',
  resultsPrefix: 'results/',
});
const ID = 'a'.repeat(64);
const event = (cause: string): PipelineEvent => ({ detailType: 'CA Expiring', detail: { cause } });

/** S3 with If-None-Match: * as S3 answers it: 412 for a key that exists. */
const markers = new Set<string>();
beforeEach(() => {
  s3.reset();
  bus.reset();
  markers.clear();
  s3.on(PutObjectCommand).callsFake((input: { Key: string; IfNoneMatch?: string }) => {
    if (input.IfNoneMatch === '*' && markers.has(input.Key)) throw awsError('PreconditionFailed', 412);
    markers.add(input.Key);
    return {};
  });
  s3.on(DeleteObjectCommand).callsFake((input: { Key: string }) => {
    markers.delete(input.Key);
    return {};
  });
  bus.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: '1' }] });
});

describe('publishOncePerCause', () => {
  it('publishes a cause once, however often it is asked to', async () => {
    expect(await publishOncePerCause(deps(), [event('x')])).toHaveLength(1);
    expect(await publishOncePerCause(deps(), [event('x'), event('y')])).toEqual([event('y')]);
    expect(await publishOncePerCause(deps(), [event('x'), event('y')])).toEqual([]);
    expect(bus).toHaveReceivedCommandTimes(PutEventsCommand, 2);
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Key: noticeKeyFor('x', 'results/'), IfNoneMatch: '*' });
    expect(noticeKeyFor('x', 'results/')).toMatch(/^results\/notices\/[0-9a-f]{64}\.json$/);
  });

  it('releases the claim when the publish fails, so the retry publishes instead of losing the event', async () => {
    bus
      .on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException' }] })
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: '1' }] });
    await expect(publishOncePerCause(deps(), [event('x')])).rejects.toMatchObject({ name: 'ThrottledError' });
    expect(markers.size).toBe(0);
    expect(await publishOncePerCause(deps(), [event('x')])).toHaveLength(1);
  });

  it('asks again later while another writer holds the same marker (409), rather than guessing', async () => {
    s3.on(PutObjectCommand).rejects(awsError('ConditionalRequestConflict', 409));
    await expect(publishOncePerCause(deps(), [event('x')])).rejects.toMatchObject({ name: 'ServiceFaultError' });
    expect(bus).toHaveReceivedCommandTimes(PutEventsCommand, 0);
  });

  it('publishes at most 10 entries per PutEvents call', async () => {
    const events = Array.from({ length: 23 }, (_, i) => event(`c${i}`));
    expect(await publishOncePerCause(deps(), events)).toHaveLength(23);
    expect(bus.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries?.length)).toEqual([10, 10, 3]);
  });
});

describe('CA Registration Failed', () => {
  const source = { bucket: 'ca-bucket', key: 'incoming/a.pem', etag: 'e1' };
  const meta = { executionId: 'arn:exec', finishedAt: '2026-12-05T00:00:00.000Z' };

  it('names the kind: business, transient (retries ran out) or unexpected', () => {
    expect(failureKind('RegistrationCodeMismatchError')).toBe('business');
    expect(failureKind('ThrottledError')).toBe('transient');
    expect(failureKind('Lambda.ServiceException')).toBe('transient');
    expect(failureKind('States.Runtime')).toBe('unexpected');
    expect(failureKind('Iot.ResourceNotFoundException')).toBe('unexpected');
  });

  it('has one cause per content and error: a redelivery shares it, another error or content does not', () => {
    const detail = (error: string, etag = 'e1') =>
      registrationFailedDetail(
        buildFailureReport({ ...source, etag }, { Error: error, Cause: 'x' }, undefined, meta),
        'results/incoming/a.pem.json',
      );
    expect(detail('NotPemError').cause).toBe(detail('NotPemError').cause);
    expect(detail('NotPemError').cause).not.toBe(detail('ThrottledError').cause);
    expect(detail('NotPemError').cause).not.toBe(detail('NotPemError', 'e2').cause);
    expect(detail('NotPemError')).toMatchObject({ executionId: 'arn:exec', receiptKey: 'results/incoming/a.pem.json' });
  });

  it('is published once per cause by RecordFailure, and counts each failure as business or unexpected', async () => {
    const metrics = new Metrics({ namespace: 'IotCaPipeline', serviceName: 'test' });
    const added: string[] = [];
    metrics.addMetric = (name: string) => {
      added.push(name);
      return metrics;
    };
    metrics.publishStoredMetrics = () => metrics;
    const run = (error: string) =>
      recordResult(
        { s3: new S3Client({}), events: new EventBridgeClient({}), metrics, resultsPrefix: 'results/' },
        {
          executionId: 'arn:exec',
          input: { bucket: source.bucket, key: source.key },
          state: { error: { Error: error, Cause: 'x' } },
        },
      );
    s3.on(PutObjectCommand).callsFake((input: { Key: string; IfNoneMatch?: string }) => {
      if (input.IfNoneMatch === '*' && markers.has(input.Key)) throw awsError('PreconditionFailed', 412);
      markers.add(input.Key);
      return {};
    });
    // The source is gone and there is no earlier report: the input names the object.
    s3.on(HeadObjectCommand).rejects(awsError('NotFound', 404));
    s3.on(GetObjectCommand).rejects(awsError('NoSuchKey', 404));
    await run('NotPemError');
    await run('NotPemError');
    await run('States.Runtime');
    const types = bus.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries?.[0]?.DetailType);
    expect(types).toEqual(['CA Registration Failed', 'CA Registration Failed']);
    expect(added).toEqual(['BusinessFailures', 'BusinessFailures', 'UnexpectedFailures']);
  });
});

describe('CA Expiring', () => {
  it('has one cause per CA, expiry and threshold', () => {
    const finding = (notAfter: string): Finding => ({
      kind: 'expiring',
      key: 'incoming/a.pem',
      certificateId: ID,
      notAfter,
      daysLeft: 5,
    });
    const meta = { bucket: 'ca-bucket', runId: 'run-1', thresholdDays: 30 };
    const [a] = expiringEvents([finding('2027-01-01T00:00:00.000Z')], meta);
    const [b] = expiringEvents([finding('2027-01-01T00:00:00.000Z')], { ...meta, runId: 'run-2' });
    const [renewed] = expiringEvents([finding('2028-01-01T00:00:00.000Z')], meta);
    const [lower] = expiringEvents([finding('2027-01-01T00:00:00.000Z')], { ...meta, thresholdDays: 7 });
    expect(a?.detail.cause).toBe(b?.detail.cause);
    expect(new Set([a, renewed, lower].map((event) => event?.detail.cause)).size).toBe(3);
    expect(expiringEvents([{ kind: 'failed', key: 'k', error: 'NotPemError' }], meta)).toEqual([]);
  });
});

describe('what a registration will announce', () => {
  const source = { bucket: 'ca-bucket', key: 'incoming/a.pem', etag: 'e1' };

  it('CA Registered from an upload or a manual start, CA Drift Repaired only for a repair with drift', () => {
    const s3Event = { source: 'aws.s3', 'detail-type': 'Object Created', detail: {} };
    expect(announcementFor(s3Event, source, ID, undefined, 'arn:x:exec')).toMatchObject({
      detailType: 'CA Registered',
      trigger: 'upload',
      replaces: null,
      drift: null,
    });
    expect(announcementFor({ bucket: 'ca-bucket', key: 'incoming/a.pem' }, source, ID, undefined, 'e')).toMatchObject({
      trigger: 'manual',
    });
    const register = { bucket: 'ca-bucket', key: 'incoming/a.pem', repair: { reason: 'never-registered', drift: [] } };
    expect(announcementFor(register, source, ID, undefined, 'e')).toMatchObject({
      detailType: 'CA Registered',
      trigger: 'reconcile',
    });
    const repair = { bucket: 'ca-bucket', key: 'incoming/a.pem', repair: { reason: 'drift', drift: ['tags differ'] } };
    expect(announcementFor(repair, source, ID, 'b'.repeat(64), 'arn:x:reconcile-run')).toEqual({
      detailType: 'CA Drift Repaired',
      trigger: 'reconcile',
      cause: `drift-repaired:${ID}:reconcile-run`,
      replaces: 'b'.repeat(64),
      drift: ['tags differ'],
    });
  });

  it('reads replaces from the object metadata, as a certificateId or not at all', () => {
    const defaults = { certificateMode: 'DEFAULT' as const, templateName: 't', tags: {} };
    expect(resolveOptions({ replaces: 'AB'.repeat(32) }, defaults).replaces).toBe('ab'.repeat(32));
    expect(() => resolveOptions({ replaces: 'not-an-id' }, defaults)).toThrow(
      expect.objectContaining({ name: 'InvalidOptionsError' }),
    );
  });
});
