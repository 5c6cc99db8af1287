/**
 * The operations the Private CA emulator serves and, for each, the errors it may answer: a
 * subset of AWS's model (the `@throws` lines of @aws-sdk/client-acm-pca's
 * `<Operation>Command.d.ts`; test/local/pca.test.ts checks every entry). Anything else an
 * operation throws is answered as InternalFailure naming the emulator's mistake.
 */
import { AwsJsonError, FRONT_END_ERRORS } from '../json11.ts';
import { internalFailure, type PcaErrorName } from './errors.ts';

export const OPERATION_ERRORS = {
  CreateCertificateAuthority: ['InvalidArgsException', 'LimitExceededException'],
  DescribeCertificateAuthority: ['InvalidArnException', 'ResourceNotFoundException'],
  ListCertificateAuthorities: ['InvalidNextTokenException'],
  GetCertificateAuthorityCsr: [
    'InvalidArnException',
    'InvalidStateException',
    'RequestInProgressException',
    'ResourceNotFoundException',
  ],
  IssueCertificate: [
    'InvalidArgsException',
    'InvalidArnException',
    'InvalidStateException',
    'MalformedCSRException',
    'ResourceNotFoundException',
  ],
  GetCertificate: [
    'InvalidArnException',
    'InvalidStateException',
    'RequestInProgressException',
    'ResourceNotFoundException',
  ],
  ImportCertificateAuthorityCertificate: [
    'CertificateMismatchException',
    'InvalidArnException',
    'InvalidRequestException',
    'InvalidStateException',
    'MalformedCertificateException',
    'ResourceNotFoundException',
  ],
  GetCertificateAuthorityCertificate: ['InvalidArnException', 'InvalidStateException', 'ResourceNotFoundException'],
} as const satisfies Record<string, readonly PcaErrorName[]>;

export type PcaOperation = keyof typeof OPERATION_ERRORS;

export const answerable = (operation: string | undefined, error: unknown): AwsJsonError => {
  if (!(error instanceof AwsJsonError)) return internalFailure(`Emulator error: ${(error as Error).message}`);
  if ((FRONT_END_ERRORS as readonly string[]).includes(error.name)) return error;
  const listed: readonly string[] | undefined = OPERATION_ERRORS[operation as PcaOperation];
  if (!listed || listed.includes(error.name)) return error;
  return internalFailure(
    `Emulator error: ${operation} answered ${error.name} (${error.message}), which its model does not list.`,
  );
};
