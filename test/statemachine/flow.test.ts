/**
 * The whole register-ca flow on aws-local-stepfunctions, each Task bound (as serverless.yml says)
 * to the real handler, with the AWS SDK mocked: both modes, business failures, a retried throttle.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DescribeCACertificateCommand,
  DescribeProvisioningTemplateCommand,
  GetRegistrationCodeCommand,
  IoTClient,
  ListTagsForResourceCommand,
  RegisterCACertificateCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateCACertificateCommand,
} from '@aws-sdk/client-iot';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { CaDriftRepairedDetailSchema, CaRegisteredDetailSchema } from '../../functions/core/events.ts';
import { loadApp } from '../../local/app.ts';
import { LocalEngine, type ExecutionRecord } from '../../local/engine.ts';
import { inspectCaFile } from '../../functions/core/certificate.ts';
import { awsError, fakeBucket, type FakeObject } from '../fixtures/aws.ts';
import { makeCa, makeLeaf, REGISTRATION_CODE, type Pki } from '../fixtures/pki.ts';

const BUCKET = 'ca-bucket';
const ARN_PREFIX = 'arn:aws:iot:us-east-1:123456789012:cacert/';
// Class-level mocks: they reach the clients each handler module builds at init.
const iot = mockClient(IoTClient);
const s3 = mockClient(S3Client);
const bus = mockClient(EventBridgeClient);
const objects = new Map<string, FakeObject>();
let ca: Pki;
let sniCa: Pki;
let verification: Pki;
let engine: LocalEngine;

beforeAll(async () => {
  ca = await makeCa();
  sniCa = await makeCa({ key: { type: 'ec', curve: 'P-256' } });
  verification = await makeLeaf(ca, `CN=${REGISTRATION_CODE}`);
  engine = new LocalEngine(loadApp().stateMachines.RegisterCaStateMachine as never, { retryIntervalMs: 1 });
});
afterAll(() => {
  iot.restore();
  s3.restore();
  bus.restore();
});

beforeEach(() => {
  objects.clear();
  iot.reset();
  s3.reset();
  bus.reset();
  bus.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'event-1' }] });
  fakeBucket(s3, objects);
  iot.on(GetRegistrationCodeCommand).resolves({ registrationCode: REGISTRATION_CODE });
  iot.on(RegisterCACertificateCommand).callsFake((input: { caCertificate: string }) => {
    const certificateId = inspectCaFile(input.caCertificate).certificateId;
    return { certificateId, certificateArn: `${ARN_PREFIX}${certificateId}` };
  });
  iot.on(DescribeProvisioningTemplateCommand).resolves({ templateName: 'iot-ca-test-jitp', type: 'JITP' });
  iot.on(UpdateCACertificateCommand).resolves({});
  iot.on(ListTagsForResourceCommand).resolves({ tags: [] });
  iot.on(TagResourceCommand).resolves({});
});

const visited = (record: ExecutionRecord): string[] =>
  record.events.filter((event) => event.type === 'StateEntered').map((event) => event.state?.name as string);
const result = (key: string) => JSON.parse(String(objects.get(`results/${key}.json`)?.body));
const activations = () =>
  iot.commandCalls(UpdateCACertificateCommand).filter((call) => call.args[0].input.newStatus === 'ACTIVE');
/** What the flow published: one entry per PutEvents call here. */
const published = () => bus.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []);
const detailOf = (entry: { Detail?: string | undefined } | undefined) => JSON.parse(String(entry?.Detail));

/** RegisterCACertificate finds the CA registered already, as DescribeCACertificate shows it. */
const registeredAlready = (description: Record<string, unknown>, templateName?: string) => {
  const certificateId = inspectCaFile(ca.pem).certificateId;
  iot.on(RegisterCACertificateCommand).rejects(
    awsError('ResourceAlreadyExistsException', 409, {
      resourceId: certificateId,
      resourceArn: `${ARN_PREFIX}${certificateId}`,
    }),
  );
  iot.on(DescribeCACertificateCommand).resolves({
    certificateDescription: {
      certificateId,
      certificateArn: `${ARN_PREFIX}${certificateId}`,
      certificateMode: 'DEFAULT',
      ...description,
    },
    ...(templateName ? { registrationConfig: { templateName } } : {}),
  });
  return certificateId;
};

describe('register-ca on the local engine', () => {
  it('DEFAULT: verifies, registers ACTIVE with its template and tags in one call, records, then announces', async () => {
    objects.set('incoming/a.pem', { body: `${ca.pem}${verification.pem}` });
    const record = await engine.run({ bucket: BUCKET, key: 'incoming/a.pem' });
    expect(record.status).toBe('SUCCEEDED');
    expect(visited(record)).toEqual([
      'LoadCertificate',
      'CertificateMode',
      'VerifyOwnership',
      'RegisterCa',
      'NeedsConfiguration',
      'RecordResult',
      'Announce',
    ]);
    const calls = iot.calls().map((call) => (call.args[0] as object).constructor.name);
    expect(calls).toEqual([
      'GetRegistrationCodeCommand',
      'DescribeProvisioningTemplateCommand',
      'RegisterCACertificateCommand',
    ]);
    expect(iot).toHaveReceivedCommandWith(RegisterCACertificateCommand, {
      setAsActive: true,
      allowAutoRegistration: true,
      certificateMode: 'DEFAULT',
      registrationConfig: { templateName: 'iot-ca-test-jitp' },
      tags: expect.arrayContaining([
        { Key: 'team', Value: 'platform' },
        { Key: 'iot-ca:source-key', Value: 'incoming/a.pem' },
      ]),
    });
    expect(activations()).toHaveLength(0);
    const receipt = result('incoming/a.pem');
    expect(receipt).toMatchObject({
      outcome: 'ACTIVE',
      certificateMode: 'DEFAULT',
      templateName: 'iot-ca-test-jitp',
      certificateId: inspectCaFile(ca.pem).certificateId,
      replaces: null,
    });
    expect(receipt.executionId).toBe(record.executionArn);
    const [entry, ...more] = published();
    expect(more).toEqual([]);
    expect(entry).toMatchObject({ Source: 'iot-ca-pipeline', DetailType: 'CA Registered' });
    const detail = CaRegisteredDetailSchema.parse(detailOf(entry));
    expect(detail).toMatchObject({
      certificateId: receipt.certificateId,
      certificateArn: receipt.certificateArn,
      receiptKey: 'results/incoming/a.pem.json',
      adopted: false,
      trigger: 'manual',
      executionId: record.executionArn,
      cause: `registered:${receipt.certificateId}:s3://${BUCKET}/incoming/a.pem@${receipt.source.etag ?? ''}`,
    });
    expect(entry?.Resources?.[0]).toBe(receipt.certificateArn);
  });

  /**
   * incoming/a.pem's CA registered already, ACTIVE on its template, and one run of it; from then
   * on it carries exactly the tags a run wants, so the next run finds it converged.
   */
  const runOnConvergedCa = async (): Promise<ExecutionRecord> => {
    registeredAlready({ status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' }, 'iot-ca-test-jitp');
    objects.set('incoming/a.pem', { body: `${ca.pem}${verification.pem}` });
    const first = await engine.run({ bucket: BUCKET, key: 'incoming/a.pem' });
    const wanted = iot.commandCalls(TagResourceCommand)[0]?.args[0].input.tags ?? [];
    iot.on(ListTagsForResourceCommand).resolves({ tags: wanted });
    return first;
  };

  it('a CA registered already as it should be (a duplicate delivery) gets its receipt, and no second announcement', async () => {
    const first = await runOnConvergedCa();
    bus.resetHistory();
    const record = await engine.run({ bucket: BUCKET, key: 'incoming/a.pem' });
    expect(first.status).toBe('SUCCEEDED');
    expect(record.status).toBe('SUCCEEDED');
    expect(visited(record).slice(-5)).toEqual([
      'Activate',
      'Changed',
      'ReadReceipt',
      'AlreadyRecorded',
      'RecordUnchanged',
    ]);
    expect(published()).toEqual([]);
    expect(result('incoming/a.pem')).toMatchObject({
      outcome: 'ACTIVE',
      adopted: true,
      executionId: record.executionArn,
    });
  });

  it('a CA left live and whole but unrecorded (its run stopped after RegisterCa) is announced by the next run, once', async () => {
    const first = await runOnConvergedCa();
    // The state a stopped run leaves: the CA as it should be, no receipt, nothing published.
    objects.delete('results/incoming/a.pem.json');
    bus.resetHistory();
    const record = await engine.run({ bucket: BUCKET, key: 'incoming/a.pem' });
    expect(first.status).toBe('SUCCEEDED');
    expect(record.status).toBe('SUCCEEDED');
    expect(visited(record).slice(-5)).toEqual(['Activate', 'Changed', 'ReadReceipt', 'RecordResult', 'Announce']);
    const [entry, ...more] = published();
    expect(more).toEqual([]);
    expect(entry?.DetailType).toBe('CA Registered');
    expect(detailOf(entry)).toMatchObject({ certificateId: inspectCaFile(ca.pem).certificateId, adopted: true });
    // Recorded now: one more delivery changes nothing and announces nothing.
    bus.resetHistory();
    expect((await engine.run({ bucket: BUCKET, key: 'incoming/a.pem' })).status).toBe('SUCCEEDED');
    expect(published()).toEqual([]);
  });

  it('a run reconciliation started on drift announces CA Drift Repaired with the drift', async () => {
    registeredAlready({ status: 'INACTIVE', autoRegistrationStatus: 'ENABLE' }, 'iot-ca-test-jitp');
    objects.set('incoming/a.pem', { body: `${ca.pem}${verification.pem}` });
    const record = await engine.run({
      bucket: BUCKET,
      key: 'incoming/a.pem',
      repair: { reason: 'drift', drift: ['status INACTIVE'] },
    });
    expect(record.status).toBe('SUCCEEDED');
    const [entry, ...more] = published();
    expect(more).toEqual([]);
    expect(entry?.DetailType).toBe('CA Drift Repaired');
    expect(CaDriftRepairedDetailSchema.parse(detailOf(entry))).toMatchObject({
      drift: ['status INACTIVE'],
      trigger: 'reconcile',
      adopted: true,
    });
  });

  it('an announcement that cannot be published does not lose the receipt: the run ends in NotAnnounced', async () => {
    bus.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'MalformedDetail' }] });
    objects.set('incoming/a.pem', { body: `${ca.pem}${verification.pem}` });
    const record = await engine.run({ bucket: BUCKET, key: 'incoming/a.pem' }, 'not-announced-run');
    expect(record.status).toBe('SUCCEEDED');
    expect(visited(record).slice(-2)).toEqual(['Announce', 'NotAnnounced']);
    const failures = record.events.filter((event) => event.type === 'StateFailed' && event.state?.name === 'Announce');
    expect(failures[0]?.Error).toBe('EventBridge.FailedEntry');
    expect(result('incoming/a.pem')).toMatchObject({ outcome: 'ACTIVE' });
    // Nor the event (docs/adr/0030): kept, as Announce would have sent it, for reconciliation to publish.
    const [entry] = bus.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries ?? [];
    const pending = JSON.parse(String(objects.get('results/notices/pending/not-announced-run.json')?.body));
    const certificateId = inspectCaFile(ca.pem).certificateId;
    expect(pending).toEqual({
      schema: 'iot-ca-pipeline/pending-notice@1',
      detailType: 'CA Registered',
      resources: [`${ARN_PREFIX}${certificateId}`],
      detail: detailOf(entry),
      error: { Error: 'EventBridge.FailedEntry', Cause: expect.any(String) },
    });
    expect(pending.detail).toMatchObject({ certificateId, cause: expect.stringMatching(/^registered:/) });
    expect(CaRegisteredDetailSchema.safeParse(pending.detail).success).toBe(true);
  });

  it('an announcement that can be neither published nor kept ends in AnnouncementLost, the run still succeeded', async () => {
    bus.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'MalformedDetail' }] });
    const put = s3.on(PutObjectCommand);
    put.callsFake((input: { Key: string; Body: string }) => {
      if (input.Key.startsWith('results/notices/pending/')) throw awsError('AccessDenied', 403);
      objects.set(input.Key, { body: input.Body });
      return {};
    });
    objects.set('incoming/a.pem', { body: `${ca.pem}${verification.pem}` });
    const record = await engine.run({ bucket: BUCKET, key: 'incoming/a.pem' });
    expect(record.status).toBe('SUCCEEDED');
    expect(visited(record).slice(-3)).toEqual(['Announce', 'NotAnnounced', 'AnnouncementLost']);
    expect(result('incoming/a.pem')).toMatchObject({ outcome: 'ACTIVE' });
    expect([...objects.keys()].filter((key) => key.includes('notices/pending/'))).toEqual([]);
  });

  it('an adopted CA is converged (template and tags side by side) before it is activated', async () => {
    const certificateId = registeredAlready({ status: 'INACTIVE' });
    iot.on(ListTagsForResourceCommand).resolves({ tags: [{ Key: 'stray', Value: 'x' }] });
    objects.set('incoming/a.pem', { body: `${ca.pem}${verification.pem}` });
    const record = await engine.run({ bucket: BUCKET, key: 'incoming/a.pem' });
    expect(record.status).toBe('SUCCEEDED');
    const steps = visited(record);
    expect(steps.slice(0, 6)).toEqual([
      'LoadCertificate',
      'CertificateMode',
      'VerifyOwnership',
      'RegisterCa',
      'NeedsConfiguration',
      'Configure',
    ]);
    expect(steps.slice(6, 8).sort()).toEqual(['AttachTemplate', 'TagCa']);
    expect(steps.slice(8)).toEqual(['Activate', 'Changed', 'RecordResult', 'Announce']);
    expect(published().map((entry) => entry.DetailType)).toEqual(['CA Registered']);
    expect(iot).toHaveReceivedCommandWith(UpdateCACertificateCommand, {
      certificateId,
      registrationConfig: { templateName: 'iot-ca-test-jitp' },
    });
    expect(iot).toHaveReceivedCommandWith(TagResourceCommand, {
      tags: expect.arrayContaining([{ Key: 'team', Value: 'platform' }]),
    });
    expect(iot).toHaveReceivedCommandWith(UntagResourceCommand, { tagKeys: ['stray'] });
    expect(activations()).toHaveLength(1);
    expect(result('incoming/a.pem')).toMatchObject({ outcome: 'ACTIVE', adopted: true });
  });

  it('SNI_ONLY: skips ownership verification, the verification certificate and the registration code', async () => {
    objects.set('incoming/sni.pem', { body: sniCa.pem, metadata: { 'certificate-mode': 'SNI_ONLY' } });
    const record = await engine.run({
      source: 'aws.s3',
      'detail-type': 'Object Created',
      detail: { bucket: { name: BUCKET }, object: { key: 'incoming/sni.pem' } },
    });
    expect(record.status).toBe('SUCCEEDED');
    expect(visited(record)).not.toContain('VerifyOwnership');
    expect(iot).toHaveReceivedCommandTimes(GetRegistrationCodeCommand, 0);
    expect(iot.commandCalls(RegisterCACertificateCommand)[0]?.args[0].input).toMatchObject({
      certificateMode: 'SNI_ONLY',
    });
    expect(result('incoming/sni.pem')).toMatchObject({ outcome: 'ACTIVE', certificateMode: 'SNI_ONLY' });
  });

  it('a wrong-CN verification ends in RecordFailure with a report, nothing registered', async () => {
    const wrong = await makeLeaf(ca, 'CN=not-the-code');
    objects.set('incoming/wrong.pem', { body: `${ca.pem}${wrong.pem}` });
    const record = await engine.run({ bucket: BUCKET, key: 'incoming/wrong.pem' });
    expect(record.status).toBe('FAILED');
    expect(record.error).toBe('RegistrationCodeMismatchError');
    expect(visited(record).slice(-2)).toEqual(['RecordFailure', 'Failed']);
    expect(iot).toHaveReceivedCommandTimes(RegisterCACertificateCommand, 0);
    const report = result('incoming/wrong.pem');
    expect(report).toMatchObject({ outcome: 'FAILED', error: { name: 'RegistrationCodeMismatchError' } });
    expect(report.error.message).toContain('not-the-code');
    expect(report.error.remedy).toMatch(/registration code/);
    const [entry, ...more] = published();
    expect(more).toEqual([]);
    expect(entry?.DetailType).toBe('CA Registration Failed');
    expect(detailOf(entry)).toMatchObject({
      source: { bucket: BUCKET, key: 'incoming/wrong.pem' },
      error: { name: 'RegistrationCodeMismatchError', kind: 'business' },
      receiptKey: 'results/incoming/wrong.pem.json',
      executionId: record.executionArn,
    });
  });

  it('a template that is not JITP is refused before anything is registered', async () => {
    iot.on(DescribeProvisioningTemplateCommand).resolves({ type: 'FLEET_PROVISIONING' });
    objects.set('incoming/a.pem', { body: `${ca.pem}${verification.pem}` });
    const record = await engine.run({ bucket: BUCKET, key: 'incoming/a.pem' });
    expect(record.error).toBe('TemplateNotJitpError');
    expect(iot).toHaveReceivedCommandTimes(RegisterCACertificateCommand, 0);
    expect(result('incoming/a.pem')).toMatchObject({ outcome: 'FAILED', error: { name: 'TemplateNotJitpError' } });
  });

  it('a failure after registration leaves the CA INACTIVE, never ACTIVE', async () => {
    // An adopted CA, so that TagCa runs (a fresh registration carries its tags already).
    registeredAlready({ status: 'INACTIVE' });
    iot.on(ListTagsForResourceCommand).resolves({ tags: [{ Key: 'team', Value: 'other' }] });
    iot.on(TagResourceCommand).rejects(awsError('AccessDeniedException', 403));
    objects.set('incoming/a.pem', { body: `${ca.pem}${verification.pem}` });
    const record = await engine.run({ bucket: BUCKET, key: 'incoming/a.pem' });
    expect(record.error).toBe('AccessDeniedError');
    expect(iot).toHaveReceivedCommandTimes(RegisterCACertificateCommand, 1);
    expect(activations()).toHaveLength(0);
    expect(result('incoming/a.pem')).toMatchObject({
      outcome: 'FAILED',
      certificateId: inspectCaFile(ca.pem).certificateId,
    });
  });

  it('retries a throttled IoT call and still ends ACTIVE', async () => {
    iot
      .on(RegisterCACertificateCommand)
      .rejectsOnce(awsError('ThrottlingException', 400))
      .callsFake((input: { caCertificate: string }) => {
        const certificateId = inspectCaFile(input.caCertificate).certificateId;
        return { certificateId, certificateArn: `${ARN_PREFIX}${certificateId}` };
      });
    objects.set('incoming/a.pem', { body: `${ca.pem}${verification.pem}` });
    const record = await engine.run({ bucket: BUCKET, key: 'incoming/a.pem' });
    expect(record.status).toBe('SUCCEEDED');
    const retries = record.events.filter((event) => event.type === 'StateRetried');
    expect(retries.map((event) => event.state?.name)).toContain('RegisterCa');
    // The call that makes the CA live is RegisterCACertificate itself, retried once.
    expect(iot).toHaveReceivedCommandTimes(RegisterCACertificateCommand, 2);
    expect(iot).toHaveReceivedNthCommandWith(RegisterCACertificateCommand, 2, { setAsActive: true });
    expect(activations()).toHaveLength(0);
  });

  it("retries an adopted CA's Activate (an SDK integration) on Iot.ThrottlingException and Iot.ServiceUnavailableException", async () => {
    registeredAlready({ status: 'INACTIVE' });
    iot
      .on(UpdateCACertificateCommand, { newStatus: 'ACTIVE' })
      .rejectsOnce(awsError('ThrottlingException', 400))
      .rejectsOnce(awsError('ServiceUnavailableException', 503))
      .resolves({});
    objects.set('incoming/a.pem', { body: `${ca.pem}${verification.pem}` });
    const record = await engine.run({ bucket: BUCKET, key: 'incoming/a.pem' });
    expect(record.status).toBe('SUCCEEDED');
    const failed = record.events.filter((event) => event.type === 'StateFailed' && event.state?.name === 'Activate');
    expect(failed.map((event) => event.Error)).toEqual(['Iot.ThrottlingException', 'Iot.ServiceUnavailableException']);
    expect(failed[1]?.Cause).toBe(
      'ServiceUnavailableException from the fake (Service: Iot, Status Code: 503, Request ID: local)',
    );
    expect(activations()).toHaveLength(3);
    expect(result('incoming/a.pem').outcome).toBe('ACTIVE');
  });

  it('an UpdateCACertificate refused for good is reported with its integration name, not retried', async () => {
    registeredAlready({ status: 'INACTIVE' });
    iot.on(UpdateCACertificateCommand, { newStatus: 'ACTIVE' }).rejects(awsError('InvalidRequestException', 400));
    objects.set('incoming/a.pem', { body: `${ca.pem}${verification.pem}` });
    const record = await engine.run({ bucket: BUCKET, key: 'incoming/a.pem' });
    expect(record).toMatchObject({ status: 'FAILED', error: 'Iot.InvalidRequestException' });
    expect(activations()).toHaveLength(1);
    expect(result('incoming/a.pem')).toMatchObject({
      outcome: 'FAILED',
      error: { name: 'Iot.InvalidRequestException', transient: false },
    });
  });

  it('bad input names the error and writes no report when there is nowhere to write it', async () => {
    const record = await engine.run({ hello: 'world' });
    expect(record).toMatchObject({ status: 'FAILED', error: 'InvalidInputError' });
    expect([...objects.keys()]).toEqual([]);
  });
});
