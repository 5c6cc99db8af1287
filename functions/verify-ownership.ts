import { checkVerification } from './lib/certificate.ts';
import { PipelineError } from './lib/errors.ts';
import { requireObject, requireString } from './lib/input.ts';
import { step } from './lib/middleware.ts';
import type { LoadedCertificate, StepInput } from './lib/types.ts';

export interface VerifyOwnershipInput extends StepInput {
  certificate: LoadedCertificate;
  registrationCode: string;
}

export interface VerifyOwnershipOutput {
  verified: true;
  verificationCertificateId: string;
  verificationSubject: string;
}

/**
 * DEFAULT mode's proof of possession, checked locally so that a wrong CN or signature is a clear
 * named error before AWS IoT is asked (and before anything is registered).
 */
export const verifyOwnership = async (event: VerifyOwnershipInput, now: Date = new Date()): Promise<VerifyOwnershipOutput> => {
  const certificate = requireObject<LoadedCertificate>(event.certificate, 'certificate');
  const registrationCode = requireString(event.registrationCode, 'registrationCode');
  if (!certificate.verificationPem) {
    throw new PipelineError('VerificationCertificateMissingError', 'DEFAULT mode needs a verification certificate and none was loaded.');
  }
  const result = checkVerification(requireString(certificate.caPem, 'certificate.caPem'), certificate.verificationPem, registrationCode, now);
  return { verified: true, verificationCertificateId: result.certificateId, verificationSubject: result.subject };
};

export const handler = step((event: VerifyOwnershipInput) => verifyOwnership(event));
