/**
 * The operations the emulator serves and, for each, the errors it may answer: a subset of the
 * errors AWS's API model lists for that operation (the `@throws` lines of
 * `@aws-sdk/client-iot/dist-types/commands/<Operation>Command.d.ts`; test/local/error-model.test.ts
 * checks every entry against them). An operation never answers an error outside its list: no
 * ServiceUnavailableException from TagResource, because the model says TagResource cannot return it.
 */
import type { IotErrorName } from './errors.ts';

export type Operation =
  | 'GetRegistrationCode'
  | 'DeleteRegistrationCode'
  | 'RegisterCACertificate'
  | 'DescribeCACertificate'
  | 'UpdateCACertificate'
  | 'DeleteCACertificate'
  | 'ListCACertificates'
  | 'TagResource'
  | 'UntagResource'
  | 'ListTagsForResource'
  | 'CreateProvisioningTemplate'
  | 'DescribeProvisioningTemplate'
  | 'ListProvisioningTemplates'
  | 'DescribeCertificate'
  | 'ListCertificatesByCA'
  | 'UpdateCertificate'
  | 'RegisterCertificate'
  | 'DescribeThing'
  | 'ListThingPrincipals'
  | 'GetPolicy'
  | 'ListAttachedPolicies'
  | 'DescribeEndpoint'
  // Not served on the wire: what JITP runs on the account's behalf, counted against its quota.
  | 'RegisterThing';

/** What the model lists for every operation served here: throttling, auth and the service's own faults. */
const EVERY_OPERATION = [
  'ThrottlingException',
  'UnauthorizedException',
  'ServiceUnavailableException',
  'InternalFailureException',
] as const;

export const OPERATION_ERRORS: Readonly<Record<Operation, readonly IotErrorName[]>> = {
  GetRegistrationCode: ['InvalidRequestException', ...EVERY_OPERATION],
  DeleteRegistrationCode: [...EVERY_OPERATION],
  RegisterCACertificate: [
    'CertificateValidationException',
    'RegistrationCodeValidationException',
    'InvalidRequestException',
    'ResourceAlreadyExistsException',
    'ResourceNotFoundException',
    'LimitExceededException',
    ...EVERY_OPERATION,
  ],
  DescribeCACertificate: ['InvalidRequestException', 'ResourceNotFoundException', ...EVERY_OPERATION],
  UpdateCACertificate: ['InvalidRequestException', 'ResourceNotFoundException', ...EVERY_OPERATION],
  DeleteCACertificate: [
    'CertificateStateException',
    'InvalidRequestException',
    'ResourceNotFoundException',
    ...EVERY_OPERATION,
  ],
  ListCACertificates: ['InvalidRequestException', ...EVERY_OPERATION],
  // The three tag operations list neither ServiceUnavailableException nor UnauthorizedException.
  TagResource: [
    'InvalidRequestException',
    'LimitExceededException',
    'ResourceNotFoundException',
    'ThrottlingException',
    'InternalFailureException',
  ],
  UntagResource: [
    'InvalidRequestException',
    'ResourceNotFoundException',
    'ThrottlingException',
    'InternalFailureException',
  ],
  ListTagsForResource: [
    'InvalidRequestException',
    'ResourceNotFoundException',
    'ThrottlingException',
    'InternalFailureException',
  ],
  CreateProvisioningTemplate: [
    'InvalidRequestException',
    'LimitExceededException',
    'ResourceAlreadyExistsException',
    'ThrottlingException',
    'UnauthorizedException',
    'InternalFailureException',
  ],
  DescribeProvisioningTemplate: [
    'InvalidRequestException',
    'ResourceNotFoundException',
    'ThrottlingException',
    'UnauthorizedException',
    'InternalFailureException',
  ],
  ListProvisioningTemplates: [
    'InvalidRequestException',
    'ThrottlingException',
    'UnauthorizedException',
    'InternalFailureException',
  ],
  DescribeCertificate: ['InvalidRequestException', 'ResourceNotFoundException', ...EVERY_OPERATION],
  ListCertificatesByCA: ['InvalidRequestException', ...EVERY_OPERATION],
  UpdateCertificate: [
    'CertificateStateException',
    'InvalidRequestException',
    'ResourceNotFoundException',
    ...EVERY_OPERATION,
  ],
  RegisterCertificate: [
    'CertificateConflictException',
    'CertificateStateException',
    'CertificateValidationException',
    'InvalidRequestException',
    'ResourceAlreadyExistsException',
    ...EVERY_OPERATION,
  ],
  DescribeThing: ['InvalidRequestException', 'ResourceNotFoundException', ...EVERY_OPERATION],
  ListThingPrincipals: ['InvalidRequestException', 'ResourceNotFoundException', ...EVERY_OPERATION],
  GetPolicy: ['InvalidRequestException', 'ResourceNotFoundException', ...EVERY_OPERATION],
  ListAttachedPolicies: [
    'InvalidRequestException',
    'LimitExceededException',
    'ResourceNotFoundException',
    ...EVERY_OPERATION,
  ],
  // DescribeEndpoint's model lists no ServiceUnavailableException.
  DescribeEndpoint: [
    'InvalidRequestException',
    'ThrottlingException',
    'UnauthorizedException',
    'InternalFailureException',
  ],
  RegisterThing: ['InvalidRequestException', ...EVERY_OPERATION],
};

/**
 * Errors of the service front end, before any operation runs: AWS's common errors, which no
 * operation's model lists (an IAM denial; a request with no signature to an operation whose model
 * has no UnauthorizedException).
 */
export const FRONT_END_ERRORS: readonly IotErrorName[] = [
  'AccessDeniedException',
  'MissingAuthenticationTokenException',
];

/** Whether `operation` may answer the error `name`. */
export const mayAnswer = (operation: Operation, name: string): boolean =>
  (OPERATION_ERRORS[operation] as readonly string[]).includes(name) ||
  (FRONT_END_ERRORS as readonly string[]).includes(name);
