/**
 * The operations the KMS emulator serves and, for each, the errors it may answer: a subset of what
 * AWS's model lists (the `@throws` lines of @aws-sdk/client-kms's `<Operation>Command.d.ts`;
 * test/local/kms.test.ts checks every entry). Anything else an operation throws is answered as
 * KMSInternalException naming the emulator's mistake.
 */
import { AwsJsonError, FRONT_END_ERRORS } from '../json11.ts';
import { type KmsErrorName, kmsError } from './errors.ts';

export const OPERATION_ERRORS = {
  CreateKey: ['UnsupportedOperationException', 'KMSInternalException'],
  CreateAlias: [
    'AlreadyExistsException',
    'InvalidAliasNameException',
    'KMSInvalidStateException',
    'NotFoundException',
    'KMSInternalException',
  ],
  ListAliases: ['InvalidArnException', 'InvalidMarkerException', 'NotFoundException', 'KMSInternalException'],
  DescribeKey: ['InvalidArnException', 'NotFoundException', 'KMSInternalException'],
  GetPublicKey: [
    'DisabledException',
    'InvalidArnException',
    'InvalidKeyUsageException',
    'KMSInvalidStateException',
    'NotFoundException',
    'UnsupportedOperationException',
    'KMSInternalException',
  ],
  Sign: [
    'DisabledException',
    'InvalidKeyUsageException',
    'KMSInvalidStateException',
    'NotFoundException',
    'KMSInternalException',
  ],
  Verify: [
    'DisabledException',
    'InvalidKeyUsageException',
    'KMSInvalidSignatureException',
    'KMSInvalidStateException',
    'NotFoundException',
    'KMSInternalException',
  ],
  DisableKey: ['InvalidArnException', 'KMSInvalidStateException', 'NotFoundException', 'KMSInternalException'],
  EnableKey: ['InvalidArnException', 'KMSInvalidStateException', 'NotFoundException', 'KMSInternalException'],
  ScheduleKeyDeletion: ['InvalidArnException', 'KMSInvalidStateException', 'NotFoundException', 'KMSInternalException'],
} as const satisfies Record<string, readonly KmsErrorName[]>;

export type KmsOperation = keyof typeof OPERATION_ERRORS;

/**
 * The error to answer: `error` itself when it is a front-end error or one its operation's model
 * lists, else KMSInternalException naming the emulator's mistake (which every operation lists).
 */
export const answerable = (operation: string | undefined, error: unknown): AwsJsonError => {
  if (!(error instanceof AwsJsonError))
    return kmsError('KMSInternalException', `Emulator error: ${(error as Error).message}`);
  if ((FRONT_END_ERRORS as readonly string[]).includes(error.name)) return error;
  const listed: readonly string[] | undefined = OPERATION_ERRORS[operation as KmsOperation];
  if (!listed || listed.includes(error.name)) return error;
  return kmsError(
    'KMSInternalException',
    `Emulator error: ${operation} answered ${error.name} (${error.message}), which its model does not list.`,
  );
};
