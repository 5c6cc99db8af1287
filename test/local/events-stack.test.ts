/**
 * The local EventBridge in the running stack: PutEvents on the wire through @aws-sdk/client-
 * eventbridge (validation, per-entry errors, IAM with events:source), S3 deletes through the
 * template's CaDeletedRule to retire-ca, and the engine's `events:putEvents` Task integration.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, DeleteObjectsCommand, S3Client } from '@aws-sdk/client-s3';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { afterAll, describe, expect, it } from 'vitest';
import { loadApp } from '../../local/app.ts';
import { LocalEngine } from '../../local/engine.ts';
import type { BusEvent } from '../../local/events/bus.ts';
import { OPERATION_ERRORS } from '../../local/events/operations.ts';
import { FRONT_END_ERRORS } from '../../local/json11.ts';
import { writeEventsTemplate } from '../fixtures/events-template.ts';
import { sdkModelErrors } from '../fixtures/sdk-model.ts';
import { useLocalStack } from '../fixtures/stack.ts';

const seen: BusEvent[] = [];
const fixture = useLocalStack({ onBusEvent: (event) => seen.push(event) });
const root = writeEventsTemplate(mkdtempSync(join(tmpdir(), 'iot-ca-events-template-')));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const entry = (overrides: Partial<PutEventsRequestEntry> = {}): PutEventsRequestEntry => ({
  Source: 'iot-ca-pipeline',
  DetailType: 'CA Expiring',
  Detail: JSON.stringify({ certificateId: 'a'.repeat(64), cause: 'expiring:30' }),
  ...overrides,
});

const client = (credentials?: { accessKeyId: string; secretAccessKey: string }) =>
  new EventBridgeClient({ maxAttempts: 1, ...(credentials ? { credentials } : {}) });

const failure = async (promise: Promise<unknown>): Promise<{ name: string; message: string }> =>
  promise.then(
    () => ({ name: 'none', message: '' }),
    (error: Error) => ({ name: error.name, message: error.message }),
  );

describe('PutEvents on the local EventBridge', () => {
  it('is served at endpoints.events, which the SDK reaches through AWS_ENDPOINT_URL_EVENTBRIDGE', () => {
    const info = fixture.stack.info();
    expect(info.endpoints.events).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(process.env.AWS_ENDPOINT_URL_EVENTBRIDGE).toBe(info.endpoints.events);
    expect(info.retireStateMachineArn).toBe(fixture.stack.retireEngine.stateMachineArn);
    expect(info.retireStateMachineArn).toMatch(/:stateMachine:iot-ca-pipeline-local-retire-ca$/);
    expect(info.eventsLogFile.startsWith(fixture.stateDir)).toBe(true);
  });

  it('accepts entries, answers an EventId each and puts them on the bus as envelopes', async () => {
    const events = client();
    const before = seen.length;
    const answer = await events.send(
      new PutEventsCommand({ Entries: [entry(), entry({ DetailType: 'CA Registered' })] }),
    );
    events.destroy();
    expect(answer.FailedEntryCount).toBe(0);
    expect(answer.Entries?.map((result) => typeof result.EventId)).toEqual(['string', 'string']);
    const put = seen.slice(before);
    expect(put.map((event) => [event.id, event.source, event['detail-type']])).toEqual([
      [answer.Entries?.[0]?.EventId, 'iot-ca-pipeline', 'CA Expiring'],
      [answer.Entries?.[1]?.EventId, 'iot-ca-pipeline', 'CA Registered'],
    ]);
    expect(put[0]?.detail).toEqual({ certificateId: 'a'.repeat(64), cause: 'expiring:30' });
    expect(put[0]).toMatchObject({ version: '0', account: '000000000000', region: 'us-east-1', resources: [] });
    // The template's PipelineEventsRule sends the pipeline's events to the events log file.
    if (fixture.stack.app.resources.PipelineEventsRule)
      expect(readFileSync(fixture.stack.info().eventsLogFile, 'utf8')).toContain(String(put[0]?.id));
  });

  it('fails bad entries one by one and lets the others through', async () => {
    const events = client();
    const answer = await events.send(
      new PutEventsCommand({
        Entries: [
          entry({ Detail: undefined }),
          entry({ Source: undefined }),
          entry({ DetailType: undefined }),
          entry({ Detail: '[1, 2]' }),
          entry({ Detail: '{not json' }),
          entry({ EventBusName: 'elsewhere' }),
          entry({ Source: 'aws.s3' }),
          entry({ EventBusName: 'arn:aws:events:us-east-1:000000000000:event-bus/default' }),
        ],
      }),
    );
    events.destroy();
    expect(answer.FailedEntryCount).toBe(7);
    expect(answer.Entries?.map((result) => result.ErrorCode ?? 'ok')).toEqual([
      'InvalidArgument',
      'InvalidArgument',
      'InvalidArgument',
      'MalformedDetail',
      'MalformedDetail',
      'ResourceNotFoundException',
      'NotAuthorizedForSourceException',
      'ok',
    ]);
    expect(answer.Entries?.[0]?.ErrorMessage).toBe(
      'Parameter Detail is not valid. Reason: Detail is a required argument.',
    );
  });

  it('refuses a call of no entries, more than 10, or over 256 KB, as ValidationException', async () => {
    const events = client();
    const empty = await failure(events.send(new PutEventsCommand({ Entries: [] })));
    const eleven = await failure(
      events.send(new PutEventsCommand({ Entries: Array.from({ length: 11 }, () => entry()) })),
    );
    const big = JSON.stringify({ padding: 'x'.repeat(130 * 1024) });
    const large = await failure(
      events.send(new PutEventsCommand({ Entries: [entry({ Detail: big }), entry({ Detail: big })] })),
    );
    const justUnder = await events.send(
      new PutEventsCommand({ Entries: [entry({ Detail: JSON.stringify({ padding: 'x'.repeat(200 * 1024) }) })] }),
    );
    events.destroy();
    expect(empty.name).toBe('ValidationException');
    expect(empty.message).toMatch(/greater than or equal to 1/);
    expect(eleven.name).toBe('ValidationException');
    expect(eleven.message).toMatch(/less than or equal to 10/);
    expect(large).toEqual({
      name: 'ValidationException',
      message: 'Total size of the entries in the request is over the limit.',
    });
    expect(justUnder.FailedEntryCount).toBe(0);
  });

  it("answers only errors AWS's model lists for PutEvents (plus the front end's)", () => {
    const listed = sdkModelErrors('@aws-sdk/client-eventbridge', 'EventBridgeServiceException')('PutEvents');
    for (const name of OPERATION_ERRORS.PutEvents) expect(listed).toContain(name);
    expect(FRONT_END_ERRORS).toContain('AccessDeniedException');
  });

  it('enforces events:PutEvents on the default bus with events:source per entry', async () => {
    const { iam } = fixture.stack;
    // recordRetired may put the pipeline's own events, and only those (serverless.yml).
    const allowed = client(iam.identityOf('recordRetired'));
    const ok = await allowed.send(new PutEventsCommand({ Entries: [entry({ DetailType: 'CA Retired' })] }));
    expect(ok.FailedEntryCount).toBe(0);
    const otherSource = await failure(
      allowed.send(new PutEventsCommand({ Entries: [entry(), entry({ Source: 'someone-else' })] })),
    );
    allowed.destroy();
    expect(otherSource.name).toBe('AccessDeniedException');
    expect(otherSource.message).toMatch(/events:PutEvents/);
    expect(otherSource.message).toMatch(/event-bus\/default/);
    // A role without events:PutEvents at all.
    const denied = client(iam.identityOf('loadCertificate'));
    const refused = await failure(denied.send(new PutEventsCommand({ Entries: [entry()] })));
    denied.destroy();
    expect(refused.name).toBe('AccessDeniedException');
    expect(iam.guard.denials.some((denial) => denial.message.includes('events:PutEvents'))).toBe(true);
  });
});

describe('S3 deletes through the bus', () => {
  it('an uploaded CA object deleted starts retire-ca once, with the Object Deleted event', async () => {
    const key = 'incoming/bus-delete.pem';
    await fixture.put(key, 'not a certificate');
    await fixture.settle();
    const retireBefore = fixture.stack.retireEngine.list().length;
    await fixture.s3.send(new DeleteObjectCommand({ Bucket: fixture.stack.bucket, Key: key }));
    await fixture.settle();
    const started = fixture.stack.retireEngine.list().slice(retireBefore);
    expect(started).toHaveLength(1);
    expect(started[0]?.input).toMatchObject({
      source: 'aws.s3',
      'detail-type': 'Object Deleted',
      detail: {
        bucket: { name: fixture.stack.bucket },
        object: { key },
        reason: 'DeleteObject',
        'deletion-type': 'Delete Marker Created',
      },
    });
    // A key outside the rule's filters starts nothing; with events off, nothing either.
    await fixture.put('elsewhere/x.pem', 'x');
    await fixture.s3.send(new DeleteObjectCommand({ Bucket: fixture.stack.bucket, Key: 'elsewhere/x.pem' }));
    fixture.stack.eventsEnabled = false;
    await fixture.s3.send(new DeleteObjectCommand({ Bucket: fixture.stack.bucket, Key: key }));
    await fixture.settle();
    fixture.stack.eventsEnabled = true;
    expect(fixture.stack.retireEngine.list().length).toBe(retireBefore + 1);
  });
});

describe('S3 batch deletes through the bus', () => {
  it('DeleteObjects (aws s3 rm --recursive) sends Object Deleted for each key it deleted', async () => {
    const keys = ['incoming/batch/a.pem', 'incoming/batch/b.crt'];
    for (const key of keys) await fixture.put(key, 'not a certificate');
    await fixture.settle();
    const before = fixture.stack.retireEngine.list().length;
    const deletedBefore = seen.filter((event) => event['detail-type'] === 'Object Deleted').length;
    // One attempt: two keys in one folder used to fail s3rver's DeleteObjects with InternalError.
    const s3 = new S3Client({ maxAttempts: 1 });
    const answer = await s3.send(
      new DeleteObjectsCommand({
        Bucket: fixture.stack.bucket,
        Delete: { Objects: [...keys, 'incoming/batch/never-there.pem'].map((Key) => ({ Key })) },
      }),
    );
    s3.destroy();
    expect(answer.Errors ?? []).toEqual([]);
    await fixture.settle();
    const deleted = seen.filter((event) => event['detail-type'] === 'Object Deleted').slice(deletedBefore);
    expect(deleted.map((event) => (event.detail as any).object.key).sort()).toEqual(keys);
    expect(
      fixture.stack.retireEngine
        .list()
        .slice(before)
        .map((record) => (record.input as any).detail.object.key)
        .sort(),
    ).toEqual(keys);
  });
});

describe('the events:putEvents Task integration', () => {
  const emitEngine = (credentials: { accessKeyId: string; secretAccessKey: string }) => {
    const app = loadApp(root, 'local');
    return new LocalEngine(app.stateMachines.EmitStateMachine as never, { integrationCredentials: credentials });
  };

  it('sends Detail as JSON text, appends the execution and state machine ARNs, returns Entries', async () => {
    // The stack's IAM knows only its own roles: recordRetired's may put source iot-ca-pipeline.
    const engine = emitEngine(fixture.stack.iam.identityOf('recordRetired'));
    const before = seen.length;
    const record = await engine.run({ source: 'iot-ca-pipeline', detail: { certificateId: 'c', cause: 'x' } });
    expect(record.status).toBe('SUCCEEDED');
    expect(record.output).toEqual({ Entries: [{ EventId: expect.any(String) }], FailedEntryCount: 0 });
    const [put] = seen.slice(before);
    expect(put?.detail).toEqual({ certificateId: 'c', cause: 'x' });
    expect(put?.resources).toEqual([record.executionArn, engine.stateMachineArn]);
    expect(engine.resourceTypeOf('Emit')).toBe('events');
  });

  it('fails the Task with EventBridge.<Exception> when the call is refused', async () => {
    const engine = emitEngine(fixture.stack.iam.identityOf('recordRetired'));
    const failed = await engine.run({ source: 'aws.iot', detail: {} });
    expect(failed.status).toBe('FAILED');
    // IAM judges the call before the entries: recordRetired may not put source aws.iot at all.
    expect(failed.error).toBe('EventBridge.AccessDeniedException');
    const unsigned = emitEngine(fixture.stack.iam.identityOf('loadCertificate'));
    const denied = await unsigned.run({ source: 'iot-ca-pipeline', detail: {} });
    expect(denied.error).toBe('EventBridge.AccessDeniedException');
    expect(denied.cause).toMatch(/Service: EventBridge, Status Code: 400/);
  });

  it('EventBridge.FailedEntry carries the response when IAM allows but an entry is refused', async () => {
    // With IAM off for the call (the CLI's own key is no role), a malformed entry fails on its own.
    const engine = new LocalEngine(loadApp(root, 'local').stateMachines.EmitStateMachine as never, {
      integrationCredentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const record = await engine.run({ source: 'aws.iot', detail: {} });
    expect(record.status).toBe('FAILED');
    expect(record.error).toBe('EventBridge.FailedEntry');
    expect(JSON.parse(String(record.cause))).toMatchObject({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'NotAuthorizedForSourceException' }],
    });
  });
});

describe('files', () => {
  it('leaves no SNS outbox without notifyEmail', () => {
    expect(existsSync(join(fixture.stateDir, 'sns'))).toBe(false);
  });
});
