import { beforeEach, describe, expect, it } from 'vitest';
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
import { mockClient } from 'aws-sdk-client-mock';
import { attachTemplate, handler as attachTemplateHandler } from '../../functions/attach-template.ts';
import { getRegistrationCode } from '../../functions/aws/iot.ts';
import { registerCa } from '../../functions/register-ca.ts';
import { tagCa } from '../../functions/tag-ca.ts';
import type { LoadedCertificate } from '../../functions/core/schemas.ts';
import { awsError, lambdaContext } from '../fixtures/aws.ts';

const ID = 'c'.repeat(64);
const ARN = `arn:aws:iot:us-east-1:123456789012:cacert/${ID}`;
const iot = new IoTClient({ region: 'us-east-1' });
const mock = mockClient(iot);

const certificate = (mode: 'DEFAULT' | 'SNI_ONLY' = 'DEFAULT'): LoadedCertificate => ({
  source: { bucket: 'ca-bucket', key: 'incoming/a.pem' },
  certificateId: ID,
  caPem: '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n',
  ...(mode === 'DEFAULT'
    ? {
        verificationPem: '-----BEGIN CERTIFICATE-----\nV\n-----END CERTIFICATE-----\n',
        verificationSource: 'same-file' as const,
      }
    : {}),
  certificateMode: mode,
  templateName: 'fleet-jitp',
  tags: { team: 'platform' },
  subject: 'CN=Test CA',
  notAfter: '2030-01-01T00:00:00.000Z',
  warnings: [],
});

beforeEach(() => mock.reset());

describe('getRegistrationCode (the IoT adapter)', () => {
  it('returns the account registration code', async () => {
    mock.on(GetRegistrationCodeCommand).resolves({ registrationCode: 'f'.repeat(64) });
    expect(await getRegistrationCode(iot)).toBe('f'.repeat(64));
  });

  it('surfaces throttling as ThrottledError and 5xx as ServiceFaultError', async () => {
    mock
      .on(GetRegistrationCodeCommand)
      .rejectsOnce(awsError('ThrottlingException', 400))
      .rejectsOnce(awsError('InternalFailureException', 500));
    await expect(getRegistrationCode(iot)).rejects.toMatchObject({ name: 'ThrottledError' });
    await expect(getRegistrationCode(iot)).rejects.toMatchObject({ name: 'ServiceFaultError' });
  });
});

describe('RegisterCa', () => {
  beforeEach(() => {
    mock.on(DescribeProvisioningTemplateCommand).resolves({ templateName: 'fleet-jitp', type: 'JITP' });
  });

  it('checks the template first: a missing or non-JITP template registers nothing', async () => {
    mock
      .on(DescribeProvisioningTemplateCommand)
      .rejectsOnce(awsError('ResourceNotFoundException', 404))
      .resolvesOnce({ type: 'FLEET_PROVISIONING' });
    await expect(registerCa(iot, { certificate: certificate() })).rejects.toMatchObject({
      name: 'TemplateNotFoundError',
    });
    await expect(registerCa(iot, { certificate: certificate() })).rejects.toMatchObject({
      name: 'TemplateNotJitpError',
    });
    expect(mock).toHaveReceivedCommandTimes(RegisterCACertificateCommand, 0);
  });

  it('registers a DEFAULT CA ACTIVE with auto-registration on, its template and its tags, verification included', async () => {
    mock.on(RegisterCACertificateCommand).resolves({ certificateId: ID, certificateArn: ARN });
    expect(await registerCa(iot, { certificate: certificate() })).toEqual({
      certificateId: ID,
      certificateArn: ARN,
      adopted: false,
      configured: true,
      status: 'ACTIVE',
    });
    // Complete in the one call that creates it (docs/adr/0027): nothing is left for Activate.
    expect(mock).toHaveReceivedCommandWith(RegisterCACertificateCommand, {
      certificateMode: 'DEFAULT',
      setAsActive: true,
      allowAutoRegistration: true,
      verificationCertificate: expect.stringContaining('BEGIN CERTIFICATE'),
      registrationConfig: { templateName: 'fleet-jitp' },
      tags: [{ Key: 'team', Value: 'platform' }],
    });
    // Template, tags, activation and registration in one call: nothing else is called.
    expect(mock.calls().map((call) => (call.args[0] as object).constructor.name)).toEqual([
      'DescribeProvisioningTemplateCommand',
      'RegisterCACertificateCommand',
    ]);
  });

  it('sends no verification certificate in SNI_ONLY mode', async () => {
    mock.on(RegisterCACertificateCommand).resolves({ certificateId: ID, certificateArn: ARN });
    await registerCa(iot, { certificate: certificate('SNI_ONLY') });
    const input = mock.commandCalls(RegisterCACertificateCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ certificateMode: 'SNI_ONLY' });
    expect(input?.verificationCertificate).toBeUndefined();
  });

  it('adopts a CA that is already registered instead of failing (idempotent re-drop)', async () => {
    mock
      .on(RegisterCACertificateCommand)
      .rejects(awsError('ResourceAlreadyExistsException', 409, { resourceId: ID, resourceArn: ARN }));
    mock.on(DescribeCACertificateCommand).resolves({
      certificateDescription: {
        certificateId: ID,
        certificateArn: ARN,
        status: 'ACTIVE',
        certificateMode: 'DEFAULT',
      },
    });
    // An adopted CA may carry another template or other tags: AttachTemplate and TagCa converge it.
    expect(await registerCa(iot, { certificate: certificate() })).toEqual({
      certificateId: ID,
      certificateArn: ARN,
      adopted: true,
      configured: false,
      status: 'ACTIVE',
      converged: false,
    });
  });

  it('calls an adopted CA converged only when it is ACTIVE, auto-registering and on the template asked for', async () => {
    mock
      .on(RegisterCACertificateCommand)
      .rejects(awsError('ResourceAlreadyExistsException', 409, { resourceId: ID, resourceArn: ARN }));
    const adoptWith = async (description: Record<string, unknown>, templateName: string) => {
      mock.on(DescribeCACertificateCommand).resolves({
        certificateDescription: { certificateId: ID, certificateArn: ARN, certificateMode: 'DEFAULT', ...description },
        registrationConfig: { templateName },
      });
      return (await registerCa(iot, { certificate: certificate() })).converged;
    };
    expect(await adoptWith({ status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' }, 'fleet-jitp')).toBe(true);
    expect(await adoptWith({ status: 'INACTIVE', autoRegistrationStatus: 'ENABLE' }, 'fleet-jitp')).toBe(false);
    expect(await adoptWith({ status: 'ACTIVE', autoRegistrationStatus: 'DISABLE' }, 'fleet-jitp')).toBe(false);
    expect(await adoptWith({ status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' }, 'other')).toBe(false);
  });

  it('refuses to adopt a CA registered in the other mode', async () => {
    mock
      .on(RegisterCACertificateCommand)
      .rejects(awsError('ResourceAlreadyExistsException', 409, { resourceId: ID, resourceArn: ARN }));
    mock.on(DescribeCACertificateCommand).resolves({
      certificateDescription: {
        certificateId: ID,
        certificateArn: ARN,
        status: 'INACTIVE',
        certificateMode: 'SNI_ONLY',
      },
    });
    await expect(registerCa(iot, { certificate: certificate('DEFAULT') })).rejects.toMatchObject({
      name: 'CertificateModeConflictError',
    });
  });

  it.each([
    ['RegistrationCodeValidationException', 'RegistrationCodeMismatchError'],
    ['CertificateValidationException', 'CertificateRejectedError'],
    ['LimitExceededException', 'CaLimitExceededError'],
  ])('maps IoT %s to %s', async (awsName, pipelineName) => {
    mock.on(RegisterCACertificateCommand).rejects(awsError(awsName, awsName === 'LimitExceededException' ? 410 : 400));
    await expect(registerCa(iot, { certificate: certificate() })).rejects.toMatchObject({ name: pipelineName });
  });

  it('surfaces throttling as ThrottledError so the state machine retries it', async () => {
    mock.on(RegisterCACertificateCommand).rejects(awsError('ThrottlingException', 400));
    await expect(registerCa(iot, { certificate: certificate() })).rejects.toMatchObject({ name: 'ThrottledError' });
  });
});

describe('AttachTemplate', () => {
  it('checks the template is JITP and names it in the registration config', async () => {
    mock.on(DescribeProvisioningTemplateCommand).resolves({ templateName: 'fleet-jitp', type: 'JITP' });
    mock.on(UpdateCACertificateCommand).resolves({});
    expect(await attachTemplate(iot, { certificateId: ID, templateName: 'fleet-jitp' })).toEqual({
      templateName: 'fleet-jitp',
    });
    expect(mock).toHaveReceivedCommandWith(UpdateCACertificateCommand, {
      certificateId: ID,
      registrationConfig: { templateName: 'fleet-jitp' },
    });
  });

  it('refuses a missing template and a fleet-provisioning template, changing nothing', async () => {
    mock
      .on(DescribeProvisioningTemplateCommand)
      .rejectsOnce(awsError('ResourceNotFoundException', 404))
      .resolvesOnce({ type: 'FLEET_PROVISIONING' });
    await expect(attachTemplate(iot, { certificateId: ID, templateName: 'nope' })).rejects.toMatchObject({
      name: 'TemplateNotFoundError',
    });
    await expect(attachTemplate(iot, { certificateId: ID, templateName: 'fleet' })).rejects.toMatchObject({
      name: 'TemplateNotJitpError',
    });
    expect(mock).toHaveReceivedCommandTimes(UpdateCACertificateCommand, 0);
  });
});

describe('TagCa', () => {
  it('sets missing and changed tags and removes stray ones', async () => {
    mock.on(ListTagsForResourceCommand).resolves({
      tags: [
        { Key: 'team', Value: 'old' },
        { Key: 'stray', Value: 'x' },
        { Key: 'keep', Value: 'k' },
      ],
    });
    mock.on(TagResourceCommand).resolves({});
    mock.on(UntagResourceCommand).resolves({});
    const result = await tagCa(iot, { certificateArn: ARN, tags: { team: 'platform', keep: 'k', env: 'prod' } });
    expect(result).toEqual({ set: ['team', 'env'], removed: ['stray'] });
    expect(mock).toHaveReceivedCommandWith(TagResourceCommand, {
      resourceArn: ARN,
      tags: [
        { Key: 'team', Value: 'platform' },
        { Key: 'env', Value: 'prod' },
      ],
    });
    expect(mock).toHaveReceivedCommandWith(UntagResourceCommand, { resourceArn: ARN, tagKeys: ['stray'] });
  });

  it('reads every page of tags and writes nothing when they already match', async () => {
    mock
      .on(ListTagsForResourceCommand)
      .resolvesOnce({ tags: [{ Key: 'a', Value: '1' }], nextToken: 'p2' })
      .resolvesOnce({ tags: [{ Key: 'b', Value: '2' }] });
    expect(await tagCa(iot, { certificateArn: ARN, tags: { a: '1', b: '2' } })).toEqual({ set: [], removed: [] });
    expect(mock).toHaveReceivedCommandTimes(ListTagsForResourceCommand, 2);
    expect(mock).toHaveReceivedCommandTimes(TagResourceCommand, 0);
    expect(mock).toHaveReceivedCommandTimes(UntagResourceCommand, 0);
  });
});

describe('a step handler', () => {
  it('refuses, through its input schema, an input without a certificateId, naming the field', async () => {
    await expect(attachTemplateHandler({ executionId: 'e' }, lambdaContext('attachTemplate'))).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(/certificateId: Invalid input: expected string, received undefined/),
    });
  });
});
