import type { IoTClient } from '@aws-sdk/client-iot';
import { checkVerification } from './core/certificate.ts';
import { PipelineError } from './core/errors.ts';
import { createIotClient, getRegistrationCode } from './aws/iot.ts';
import { step } from './lambda/middleware.ts';
import {
  type Ownership,
  VerifyOwnershipInputSchema,
  VerifyOwnershipOutputSchema,
  type VerifyOwnershipInput,
  type VerifyOwnershipOutput,
} from './core/schemas.ts';

/**
 * DEFAULT mode's proof of possession, checked locally so that a wrong CN or signature is a clear
 * named error before AWS IoT is asked (and before anything is registered). The registration code
 * is fetched here, where it is used: SNI_ONLY flows never ask for it. A verification certificate
 * a signer made (SignVerification, ADR 0024) is checked exactly as an operator's file is.
 */
export const verifyOwnership = async (
  iot: IoTClient,
  event: VerifyOwnershipInput,
  now: Date = new Date(),
): Promise<VerifyOwnershipOutput> => {
  const { certificate } = event;
  if (!certificate.verificationPem) {
    throw new PipelineError(
      'VerificationCertificateMissingError',
      'DEFAULT mode needs a verification certificate and none was loaded.',
    );
  }
  const registrationCode = await getRegistrationCode(iot);
  const result = checkVerification(certificate.caPem, certificate.verificationPem, registrationCode, now);
  const planned = certificate.ownership;
  const ownership: Ownership =
    planned && (planned.method === 'kms' || planned.method === 'pca')
      ? planned
      : { method: 'verification-certificate' };
  return {
    verified: true,
    registrationCode,
    verificationCertificateId: result.certificateId,
    verificationSubject: result.subject,
    ownership,
  };
};

const iot = createIotClient();
export const handler = step({ input: VerifyOwnershipInputSchema, output: VerifyOwnershipOutputSchema }, (event) =>
  verifyOwnership(iot, event),
);
