/**
 * The template body checked where the pipeline uses a template (RegisterCa before registering,
 * AttachTemplate before attaching), and the whole flow ending in a report that names the problem.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DescribeProvisioningTemplateCommand,
  GetRegistrationCodeCommand,
  IoTClient,
  RegisterCACertificateCommand,
  UpdateCACertificateCommand,
} from '@aws-sdk/client-iot';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { attachTemplate } from '../../functions/attach-template.ts';
import { registerCa } from '../../functions/register-ca.ts';
import { ERROR_SPECS } from '../../functions/core/errors.ts';
import type { LoadedCertificate } from '../../functions/core/schemas.ts';
import { loadApp } from '../../local/app.ts';
import { LocalEngine } from '../../local/engine.ts';
import { fakeBucket, type FakeObject } from '../fixtures/aws.ts';
import { makeCa, makeLeaf, REGISTRATION_CODE } from '../fixtures/pki.ts';

const ID = 'c'.repeat(64);
const ARN = `arn:aws:iot:us-east-1:123456789012:cacert/${ID}`;
const CN = 'AWS::IoT::Certificate::CommonName';
const CERT_ID = 'AWS::IoT::Certificate::Id';

const body = (policy: Record<string, unknown>, parameters: Record<string, unknown> = {}): string =>
  JSON.stringify({
    Parameters: { [CN]: { Type: 'String' }, [CERT_ID]: { Type: 'String' }, ...parameters },
    Resources: {
      thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: CN } } },
      certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: CERT_ID }, Status: 'ACTIVE' } },
      policy: { Type: 'AWS::IoT::Policy', Properties: policy },
    },
  });
const GOOD = body({ PolicyName: 'device' });
/** Two mistakes operators make: a parameter JITP cannot fill, and a policy given twice. */
const BAD = body({ PolicyName: 'device', PolicyDocument: '{"Statement": []}' }, { ThingName: { Type: 'String' } });

// Class-level mocks reach the clients each handler module builds at init (for the flow below).
const iot = mockClient(IoTClient);
const s3 = mockClient(S3Client);
// RecordFailure announces CA Registration Failed (docs/adr/0028): the bus answers as EventBridge does.
const bus = mockClient(EventBridgeClient);
bus.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'event-1' }] });
const client = new IoTClient({ region: 'us-east-1' });
afterAll(() => {
  iot.restore();
  s3.restore();
  bus.restore();
});

const certificate = (): LoadedCertificate => ({
  source: { bucket: 'ca-bucket', key: 'incoming/a.pem' },
  certificateId: ID,
  caPem: '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n',
  certificateMode: 'SNI_ONLY',
  templateName: 'fleet-jitp',
  tags: {},
  subject: 'CN=Test CA',
  notAfter: '2030-01-01T00:00:00.000Z',
  warnings: [],
});

beforeEach(() => {
  iot.reset();
  s3.reset();
  iot.on(RegisterCACertificateCommand).resolves({ certificateId: ID, certificateArn: ARN });
  iot.on(UpdateCACertificateCommand).resolves({});
});

describe('RegisterCa checks the template body before registering', () => {
  it('a body that breaks the JITP rules fails with InvalidTemplateError naming each problem, and registers nothing', async () => {
    iot
      .on(DescribeProvisioningTemplateCommand)
      .resolves({ templateName: 'fleet-jitp', type: 'JITP', templateBody: BAD });
    const failure = registerCa(client, { certificate: certificate() });
    await expect(failure).rejects.toMatchObject({ name: 'InvalidTemplateError' });
    await expect(failure).rejects.toThrow(/"fleet-jitp".*Parameters\.ThingName.*not both/);
    expect(iot).toHaveReceivedCommandTimes(RegisterCACertificateCommand, 0);
  });

  it('a body that meets them registers the CA with its template as before', async () => {
    iot
      .on(DescribeProvisioningTemplateCommand)
      .resolves({ templateName: 'fleet-jitp', type: 'JITP', templateBody: GOOD });
    await expect(registerCa(client, { certificate: certificate() })).resolves.toMatchObject({ certificateId: ID });
    expect(iot).toHaveReceivedCommandWith(RegisterCACertificateCommand, {
      registrationConfig: { templateName: 'fleet-jitp' },
    });
  });

  it('the type is still checked first: a FLEET_PROVISIONING template is TemplateNotJitpError whatever its body', async () => {
    iot
      .on(DescribeProvisioningTemplateCommand)
      .resolves({ templateName: 'fleet-jitp', type: 'FLEET_PROVISIONING', templateBody: BAD });
    await expect(registerCa(client, { certificate: certificate() })).rejects.toMatchObject({
      name: 'TemplateNotJitpError',
    });
  });
});

describe('AttachTemplate checks the template body before attaching it to an adopted CA', () => {
  it('a bad body leaves the CA as it is: no UpdateCACertificate', async () => {
    iot
      .on(DescribeProvisioningTemplateCommand)
      .resolves({ templateName: 'fleet-jitp', type: 'JITP', templateBody: BAD });
    await expect(
      attachTemplate(client, { certificateId: ID, templateName: 'fleet-jitp' } as never),
    ).rejects.toMatchObject({ name: 'InvalidTemplateError' });
    expect(iot).toHaveReceivedCommandTimes(UpdateCACertificateCommand, 0);
  });

  it('a good body is attached', async () => {
    iot
      .on(DescribeProvisioningTemplateCommand)
      .resolves({ templateName: 'fleet-jitp', type: 'JITP', templateBody: GOOD });
    await attachTemplate(client, { certificateId: ID, templateName: 'fleet-jitp' } as never);
    expect(iot).toHaveReceivedCommandWith(UpdateCACertificateCommand, {
      certificateId: ID,
      registrationConfig: { templateName: 'fleet-jitp' },
    });
  });
});

describe('register-ca on the local engine with a bad template', () => {
  const objects = new Map<string, FakeObject>();
  let engine: LocalEngine;
  let pem: string;

  beforeAll(async () => {
    engine = new LocalEngine(loadApp().stateMachines.RegisterCaStateMachine as never, { retryIntervalMs: 1 });
    const ca = await makeCa();
    pem = `${ca.pem}${(await makeLeaf(ca, `CN=${REGISTRATION_CODE}`)).pem}`;
  });

  it('ends in RecordFailure: a report with InvalidTemplateError, its remedy, and nothing registered', async () => {
    objects.clear();
    fakeBucket(s3, objects);
    iot.on(GetRegistrationCodeCommand).resolves({ registrationCode: REGISTRATION_CODE });
    iot.on(DescribeProvisioningTemplateCommand).resolves({ type: 'JITP', templateBody: BAD });
    objects.set('incoming/a.pem', { body: pem });
    const record = await engine.run({ bucket: 'ca-bucket', key: 'incoming/a.pem' });
    expect(record.status).toBe('FAILED');
    expect(record.error).toBe('InvalidTemplateError');
    expect(iot).toHaveReceivedCommandTimes(RegisterCACertificateCommand, 0);
    expect(iot).toHaveReceivedCommandTimes(UpdateCACertificateCommand, 0);
    const report = JSON.parse(String(objects.get('results/incoming/a.pem.json')?.body));
    expect(report).toMatchObject({
      outcome: 'FAILED',
      error: { name: 'InvalidTemplateError', remedy: ERROR_SPECS.InvalidTemplateError.remedy, transient: false },
    });
    expect(report.error.message).toContain('Parameters.ThingName');
    expect(bus.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries?.[0]?.DetailType)).toEqual([
      'CA Registration Failed',
    ]);
  });
});
