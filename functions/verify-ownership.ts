import type { IoTClient } from '@aws-sdk/client-iot';
import { checkVerification } from './lib/certificate.ts';
import { PipelineError } from './lib/errors.ts';
import { requireObject, requireString } from './lib/input.ts';
import { createIotClient, getRegistrationCode } from './lib/iot.ts';
import { step } from './lib/middleware.ts';
import type { LoadedCertificate, StepInput } from './lib/types.ts';

export interface VerifyOwnershipInput extends StepInput {
  certificate: LoadedCertificate;
}

export interface VerifyOwnershipOutput {
  verified: true;
  registrationCode: string;
  verificationCertificateId: string;
  verificationSubject: string;
}

/**
 * DEFAULT mode's proof of possession, checked locally so that a wrong CN or signature is a clear
 * named error before AWS IoT is asked (and before anything is registered). The registration code
 * is fetched here, where it is used: SNI_ONLY flows never ask for it.
 */
export const verifyOwnership = async (iot: IoTClient, event: VerifyOwnershipInput, now: Date = new Date()): Promise<VerifyOwnershipOutput> => {
  const certificate = requireObject<LoadedCertificate>(event.certificate, 'certificate');
  if (!certificate.verificationPem) {
    throw new PipelineError('VerificationCertificateMissingError', 'DEFAULT mode needs a verification certificate and none was loaded.');
  }
  const registrationCode = await getRegistrationCode(iot);
  const result = checkVerification(requireString(certificate.caPem, 'certificate.caPem'), certificate.verificationPem, registrationCode, now);
  return { verified: true, registrationCode, verificationCertificateId: result.certificateId, verificationSubject: result.subject };
};

const iot = createIotClient();
export const handler = step((event: VerifyOwnershipInput) => verifyOwnership(iot, event));
