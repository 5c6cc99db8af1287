import { beforeAll, describe, expect, it } from 'vitest';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetRegistrationCodeCommand, IoTClient } from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import { recordResult } from '../../functions/record-result.ts';
import { handler as verifyOwnershipHandler, verifyOwnership } from '../../functions/verify-ownership.ts';
import { inspectCaFile } from '../../functions/core/certificate.ts';
import { RESULT_SCHEMA } from '../../functions/core/results.ts';
import type { LoadedCertificate } from '../../functions/core/schemas.ts';
import { awsError, fakeS3, lambdaContext, type FakeObject } from '../fixtures/aws.ts';
import { makeCa, makeLeaf, REGISTRATION_CODE, type Pki } from '../fixtures/pki.ts';

const ID = 'c'.repeat(64);
const ARN = `arn:aws:iot:us-east-1:123456789012:cacert/${ID}`;
let ca: Pki;
let loaded: LoadedCertificate;

beforeAll(async () => {
  ca = await makeCa();
  const verification = await makeLeaf(ca, `CN=${REGISTRATION_CODE}`);
  const inspection = inspectCaFile(ca.pem);
  loaded = {
    source: { bucket: 'ca-bucket', key: 'incoming/a.pem', versionId: 'v1' },
    certificateId: inspection.certificateId,
    caPem: inspection.caPem,
    verificationPem: verification.pem,
    verificationSource: 'sibling',
    certificateMode: 'DEFAULT',
    templateName: 'fleet-jitp',
    tags: { team: 'platform' },
    subject: inspection.subject,
    notAfter: inspection.notAfter,
    warnings: [],
  };
});

const bucket = () => {
  const store = new Map<string, FakeObject>();
  return { store, ...fakeS3(store) };
};
const json = (store: Map<string, FakeObject>, key: string) => JSON.parse(String(store.get(key)?.body));
const now = () => new Date('2026-11-28T10:00:00.000Z');

describe('RecordResult', () => {
  it('writes a receipt beside the source on success', async () => {
    const { store, client } = bucket();
    const output = await recordResult(
      { s3: client, resultsPrefix: 'results/', now },
      {
        executionId: 'exec-1',
        startTime: '2026-11-28T09:59:59.000Z',
        state: {
          certificate: loaded,
          registered: { certificateId: ID, certificateArn: ARN, adopted: false, configured: true, status: 'INACTIVE' },
        },
      },
    );
    expect(output).toEqual({ outcome: 'ACTIVE', resultKey: 'results/incoming/a.pem.json' });
    expect(json(store, 'results/incoming/a.pem.json')).toMatchObject({
      schema: RESULT_SCHEMA,
      outcome: 'ACTIVE',
      certificateId: ID,
      certificateArn: ARN,
      certificateMode: 'DEFAULT',
      templateName: 'fleet-jitp',
      tags: { team: 'platform' },
      executionId: 'exec-1',
      startedAt: '2026-11-28T09:59:59.000Z',
      finishedAt: '2026-11-28T10:00:00.000Z',
      source: { bucket: 'ca-bucket', key: 'incoming/a.pem', versionId: 'v1' },
    });
  });

  it('writes a failure report with the error name, message and remedy, keeping the start input', async () => {
    const { store, client } = bucket();
    const cause = JSON.stringify({
      errorType: 'NotACaError',
      errorMessage: 'The certificate "CN=x" is not a CA',
      trace: [],
    });
    const output = await recordResult(
      { s3: client, resultsPrefix: 'results/', now },
      {
        input: { bucket: 'ca-bucket', key: 'incoming/leaf.pem' },
        state: { bucket: 'ca-bucket', key: 'incoming/leaf.pem', error: { Error: 'NotACaError', Cause: cause } },
      },
    );
    expect(output).toEqual({ outcome: 'FAILED', resultKey: 'results/incoming/leaf.pem.json' });
    const report = json(store, 'results/incoming/leaf.pem.json');
    expect(report).toMatchObject({
      outcome: 'FAILED',
      error: { name: 'NotACaError', message: 'The certificate "CN=x" is not a CA' },
    });
    expect(report.error.remedy).toMatch(/CA:TRUE/);
  });

  it('names the version and ETag of an object LoadCertificate never read (manual start), from the bucket', async () => {
    const { store, client } = bucket();
    store.set('incoming/leaf.pem', { body: 'x', versionId: 'v7' });
    await recordResult(
      { s3: client, resultsPrefix: 'results/', now },
      {
        input: { bucket: 'ca-bucket', key: 'incoming/leaf.pem' },
        state: { error: { Error: 'NotACaError', Cause: '' } },
      },
    );
    expect(json(store, 'results/incoming/leaf.pem.json').source).toEqual({
      bucket: 'ca-bucket',
      key: 'incoming/leaf.pem',
      versionId: 'v7',
      etag: 'e',
    });
  });

  it("keeps the event's ETag (the content uploaded) and finds the object under its URL-decoded key", async () => {
    const { store, client } = bucket();
    store.set('incoming/my ca+1.pem', { body: 'x', versionId: 'v2' });
    const event = {
      source: 'aws.s3',
      'detail-type': 'Object Created',
      detail: { bucket: { name: 'ca-bucket' }, object: { key: 'incoming/my+ca%2B1.pem', etag: 'uploaded' } },
    };
    const output = await recordResult(
      { s3: client, resultsPrefix: 'results/', now },
      { input: event, state: { error: { Error: 'NotACaError', Cause: '' } } },
    );
    expect(output.resultKey).toBe('results/incoming/my ca+1.pem.json');
    expect(json(store, 'results/incoming/my ca+1.pem.json').source).toEqual({
      bucket: 'ca-bucket',
      key: 'incoming/my ca+1.pem',
      versionId: 'v2',
      etag: 'uploaded',
    });
  });

  it('marks a failure transient when the flow ended on throttling, a fault or a timeout, and final otherwise', async () => {
    const { store, client } = bucket();
    const fail = (key: string, name: string) =>
      recordResult(
        { s3: client, resultsPrefix: 'results/', now },
        { input: { bucket: 'ca-bucket', key }, state: { error: { Error: name, Cause: '' } } },
      );
    await fail('incoming/t.pem', 'ThrottledError');
    await fail('incoming/l.pem', 'Lambda.TooManyRequestsException');
    await fail('incoming/b.pem', 'NotACaError');
    expect(json(store, 'results/incoming/t.pem.json').error).toMatchObject({
      transient: true,
      remedy: expect.stringMatching(/next reconciliation/),
    });
    expect(json(store, 'results/incoming/l.pem.json').error).toMatchObject({
      transient: true,
      remedy: expect.stringMatching(/next reconciliation/),
    });
    expect(json(store, 'results/incoming/b.pem.json').error).toMatchObject({
      transient: false,
      remedy: expect.stringMatching(/CA:TRUE/),
    });
  });

  it('says, when a failure replaces a receipt, which CA that receipt left live; a second failure keeps saying it', async () => {
    const { store, client } = bucket();
    const deps = { s3: client, resultsPrefix: 'results/', now };
    await recordResult(deps, {
      state: {
        certificate: loaded,
        registered: { certificateId: ID, certificateArn: ARN, adopted: false, configured: true, status: 'INACTIVE' },
      },
    });
    const failure = {
      input: { bucket: 'ca-bucket', key: 'incoming/a.pem' },
      state: { error: { Error: 'InvalidOptionsError', Cause: '' } },
    };
    await recordResult(deps, failure);
    const previous = {
      outcome: 'ACTIVE',
      certificateId: ID,
      certificateArn: ARN,
      source: loaded.source,
      finishedAt: '2026-11-28T10:00:00.000Z',
    };
    expect(json(store, 'results/incoming/a.pem.json')).toMatchObject({ outcome: 'FAILED', previous });
    await recordResult(deps, failure);
    expect(json(store, 'results/incoming/a.pem.json')).toMatchObject({ outcome: 'FAILED', previous });
  });

  it('still writes its report when the object it replaces is no result (written by hand)', async () => {
    const { store, client } = bucket();
    store.set('results/incoming/a.pem.json', { body: JSON.stringify({ outcome: 'ACTIVE', note: 'hand-written' }) });
    await recordResult(
      { s3: client, resultsPrefix: 'results/', now },
      { input: { bucket: 'ca-bucket', key: 'incoming/a.pem' }, state: { error: { Error: 'NotACaError', Cause: '' } } },
    );
    const report = json(store, 'results/incoming/a.pem.json');
    expect(report).toMatchObject({ outcome: 'FAILED', error: { name: 'NotACaError' } });
    expect(report.previous).toBeUndefined();
  });

  it('redacts any private-key block that reached an error cause', async () => {
    const { store, client } = bucket();
    const leaked = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';
    await recordResult(
      { s3: client, resultsPrefix: 'results/', now },
      {
        input: { bucket: 'ca-bucket', key: 'incoming/x.pem' },
        state: { bucket: 'ca-bucket', key: 'incoming/x.pem', error: { Error: 'Error', Cause: `oops ${leaked}` } },
      },
    );
    const text = String(store.get('results/incoming/x.pem.json')?.body);
    expect(text).not.toContain('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC');
    expect(text).toContain('[REDACTED PRIVATE KEY]');
  });

  it('writes nothing when the input named no object', async () => {
    const { client, mock } = bucket();
    const output = await recordResult(
      { s3: client, resultsPrefix: 'results/', now },
      { input: { hello: 'world' }, state: { hello: 'world', error: { Error: 'InvalidInputError' } } },
    );
    expect(output).toEqual({ outcome: 'FAILED' });
    expect(mock).toHaveReceivedCommandTimes(PutObjectCommand, 0);
  });

  it('surfaces a throttled write as ThrottledError so the report is retried, not lost', async () => {
    const { client, mock } = bucket();
    mock.on(PutObjectCommand).rejects(awsError('SlowDown', 503));
    await expect(
      recordResult(
        { s3: client, resultsPrefix: 'results/', now },
        {
          state: {
            certificate: loaded,
            registered: {
              certificateId: ID,
              certificateArn: ARN,
              adopted: false,
              configured: true,
              status: 'INACTIVE',
            },
          },
        },
      ),
    ).rejects.toMatchObject({ name: 'ThrottledError' });
  });
});

describe('VerifyOwnership', () => {
  const iot = new IoTClient({ region: 'us-east-1' });
  const codeIs = (code: string) => mockClient(iot).on(GetRegistrationCodeCommand).resolves({ registrationCode: code });

  it("verifies the loaded verification certificate against the account's registration code", async () => {
    codeIs(REGISTRATION_CODE);
    const result = await verifyOwnership(iot, { certificate: loaded });
    expect(result).toMatchObject({
      verified: true,
      registrationCode: REGISTRATION_CODE,
      verificationSubject: `CN=${REGISTRATION_CODE}`,
    });
  });

  it('refuses when the account code differs from the CN', async () => {
    codeIs('e'.repeat(64));
    await expect(verifyOwnership(iot, { certificate: loaded })).rejects.toMatchObject({
      name: 'RegistrationCodeMismatchError',
    });
  });

  it('refuses a DEFAULT certificate that arrived without verification, without asking IoT', async () => {
    const mock = codeIs(REGISTRATION_CODE);
    const { verificationPem: _dropped, ...withoutVerification } = loaded;
    await expect(verifyOwnership(iot, { certificate: withoutVerification })).rejects.toMatchObject({
      name: 'VerificationCertificateMissingError',
    });
    expect(mock).toHaveReceivedCommandTimes(GetRegistrationCodeCommand, 0);
  });
});

describe('a handler (middy wrapper)', () => {
  it('returns plain data and turns SDK throttling into the named error Step Functions sees', async () => {
    // The handler's module-scope client is a real IoTClient; aws-sdk-client-mock patches every instance.
    const { IoTClient } = await import('@aws-sdk/client-iot');
    const mock = mockClient(IoTClient);
    mock
      .on(GetRegistrationCodeCommand)
      .resolvesOnce({ registrationCode: REGISTRATION_CODE })
      .rejectsOnce(awsError('ThrottlingException', 400));
    const context = lambdaContext('verifyOwnership');
    expect(await verifyOwnershipHandler({ executionId: 'exec-1', certificate: loaded }, context)).toMatchObject({
      verified: true,
    });
    await expect(verifyOwnershipHandler({ executionId: 'exec-1', certificate: loaded }, context)).rejects.toMatchObject(
      { name: 'ThrottledError' },
    );
    mock.restore();
  });
});
