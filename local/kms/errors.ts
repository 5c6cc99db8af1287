/**
 * KMS's errors on the JSON 1.1 wire: `__type` and the HTTP status AWS's model gives each
 * (`[_hE]` in @aws-sdk/client-kms's schemas; test/local/kms.test.ts reads them back). Which
 * operation may answer which is operations.ts's table.
 */
import { AwsJsonError } from '../json11.ts';

export const ERROR_STATUS = {
  AlreadyExistsException: 409,
  DisabledException: 409,
  InvalidAliasNameException: 400,
  InvalidArnException: 400,
  InvalidKeyUsageException: 400,
  InvalidMarkerException: 400,
  KMSInternalException: 500,
  KMSInvalidSignatureException: 400,
  KMSInvalidStateException: 409,
  NotFoundException: 404,
  UnsupportedOperationException: 400,
} as const;

export type KmsErrorName = keyof typeof ERROR_STATUS;

export const kmsError = (name: KmsErrorName, message: string): AwsJsonError =>
  new AwsJsonError(name, ERROR_STATUS[name], message);
