/**
 * Private CA's errors on the JSON 1.1 wire. Every error its model defines is a client fault
 * answered with HTTP 400; which operation may answer which is operations.ts's table.
 */
import { AwsJsonError } from '../json11.ts';

export const PCA_ERRORS = [
  'CertificateMismatchException',
  'InvalidArgsException',
  'InvalidArnException',
  'InvalidNextTokenException',
  'InvalidRequestException',
  'InvalidStateException',
  'LimitExceededException',
  'MalformedCertificateException',
  'MalformedCSRException',
  'RequestFailedException',
  'RequestInProgressException',
  'ResourceNotFoundException',
] as const;

export type PcaErrorName = (typeof PCA_ERRORS)[number];

export const pcaError = (name: PcaErrorName, message: string): AwsJsonError => new AwsJsonError(name, 400, message);

/** AWS's common server error: what the emulator answers for a fault of its own (no model lists it). */
export const internalFailure = (message: string): AwsJsonError => new AwsJsonError('InternalFailure', 500, message);
