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

export const OPERATION_ERRORS: Readonly<Record<Operation, readonly IotErrorName[]>> = {
  GetRegistrationCode: [
    'InvalidRequestException',
    'ThrottlingException',
    'UnauthorizedException',
    'ServiceUnavailableException',
    'InternalFailureException',
  ],
  DeleteRegistrationCode: [
    'ThrottlingException',
    'UnauthorizedException',
    'ServiceUnavailableException',
    'InternalFailureException',
  ],
  RegisterCACertificate: [
    'CertificateValidationException',
    'RegistrationCodeValidationException',
    'InvalidRequestException',
    'ResourceAlreadyExistsException',
    'ResourceNotFoundException',
    'LimitExceededException',
    'ThrottlingException',
    'UnauthorizedException',
    'ServiceUnavailableException',
    'InternalFailureException',
  ],
  DescribeCACertificate: [
    'InvalidRequestException',
    'ResourceNotFoundException',
    'ThrottlingException',
    'UnauthorizedException',
    'ServiceUnavailableException',
    'InternalFailureException',
  ],
  UpdateCACertificate: [
    'InvalidRequestException',
    'ResourceNotFoundException',
    'ThrottlingException',
    'UnauthorizedException',
    'ServiceUnavailableException',
    'InternalFailureException',
  ],
  DeleteCACertificate: [
    'CertificateStateException',
    'InvalidRequestException',
    'ResourceNotFoundException',
    'ThrottlingException',
    'UnauthorizedException',
    'ServiceUnavailableException',
    'InternalFailureException',
  ],
  ListCACertificates: [
    'InvalidRequestException',
    'ThrottlingException',
    'UnauthorizedException',
    'ServiceUnavailableException',
    'InternalFailureException',
  ],
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
  DescribeCertificate: [
    'InvalidRequestException',
    'ResourceNotFoundException',
    'ThrottlingException',
    'UnauthorizedException',
    'ServiceUnavailableException',
    'InternalFailureException',
  ],
  ListCertificatesByCA: [
    'InvalidRequestException',
    'ThrottlingException',
    'UnauthorizedException',
    'ServiceUnavailableException',
    'InternalFailureException',
  ],
  UpdateCertificate: [
    'CertificateStateException',
    'InvalidRequestException',
    'ResourceNotFoundException',
    'ThrottlingException',
    'UnauthorizedException',
    'ServiceUnavailableException',
    'InternalFailureException',
  ],
  RegisterCertificate: [
    'CertificateConflictException',
    'CertificateStateException',
    'CertificateValidationException',
    'InvalidRequestException',
    'ResourceAlreadyExistsException',
    'ThrottlingException',
    'UnauthorizedException',
    'ServiceUnavailableException',
    'InternalFailureException',
  ],
  DescribeThing: [
    'InvalidRequestException',
    'ResourceNotFoundException',
    'ThrottlingException',
    'UnauthorizedException',
    'ServiceUnavailableException',
    'InternalFailureException',
  ],
  ListThingPrincipals: [
    'InvalidRequestException',
    'ResourceNotFoundException',
    'ThrottlingException',
    'UnauthorizedException',
    'ServiceUnavailableException',
    'InternalFailureException',
  ],
  GetPolicy: [
    'InvalidRequestException',
    'ResourceNotFoundException',
    'ThrottlingException',
    'UnauthorizedException',
    'ServiceUnavailableException',
    'InternalFailureException',
  ],
  ListAttachedPolicies: [
    'InvalidRequestException',
    'LimitExceededException',
    'ResourceNotFoundException',
    'ThrottlingException',
    'UnauthorizedException',
    'ServiceUnavailableException',
    'InternalFailureException',
  ],
  // DescribeEndpoint's model lists no ServiceUnavailableException.
  DescribeEndpoint: [
    'InvalidRequestException',
    'ThrottlingException',
    'UnauthorizedException',
    'InternalFailureException',
  ],
  RegisterThing: [
    'InvalidRequestException',
    'ThrottlingException',
    'UnauthorizedException',
    'ServiceUnavailableException',
    'InternalFailureException',
  ],
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
