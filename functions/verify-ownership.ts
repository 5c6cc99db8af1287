import type { IoTClient } from '@aws-sdk/client-iot';
import { checkVerification } from './core/certificate.ts';
import { PipelineError } from './core/errors.ts';
import { parseSigner, type SignerSpec } from './core/signer.ts';
import { createIotClient, getRegistrationCode } from './aws/iot.ts';
import type { SignedVerification, SignRequest } from './aws/signer.ts';
import { logger } from './lambda/logger.ts';
import { step } from './lambda/middleware.ts';
import {
  VerifyOwnershipInputSchema,
  VerifyOwnershipOutputSchema,
  type VerifyOwnershipInput,
  type VerifyOwnershipOutput,
} from './core/schemas.ts';

/** Has a signer (KMS, Private CA) make the verification certificate; see aws/signer.ts. */
export type SignVerification = (request: SignRequest) => Promise<SignedVerification>;

/**
 * The KMS and Private CA clients and their module, loaded on the first CA that names a signer:
 * a flow without one never pays for them at cold start (issue 14's init budget).
 */
const lazySigner = (): SignVerification => {
  let loaded: Promise<SignVerification> | undefined;
  return async (request) => {
    loaded ??= import('./aws/signer.ts').then((module) => {
      const clients = module.createSignerClients();
      return (next: SignRequest) => module.signVerification(clients, next);
    });
    return (await loaded)(request);
  };
};

/**
 * DEFAULT mode's proof of possession, checked locally so that a wrong CN or signature is a clear
 * named error before AWS IoT is asked (and before anything is registered). The registration code
 * is fetched here, where it is used: SNI_ONLY flows never ask for it. With no verification
 * certificate from the operator and a signer named, the signer makes one for the code (ADR 0024),
 * and it goes through the same check.
 */
export const verifyOwnership = async (
  iot: IoTClient,
  event: VerifyOwnershipInput,
  now: Date = new Date(),
  signVerification: SignVerification = defaultSigner,
): Promise<VerifyOwnershipOutput> => {
  const { certificate } = event;
  let signer: SignerSpec | undefined;
  if (!certificate.verificationPem) {
    const named = certificate.ownership?.signer;
    if (!named) {
      throw new PipelineError(
        'VerificationCertificateMissingError',
        'DEFAULT mode needs a verification certificate and none was loaded.',
      );
    }
    signer = parseSigner(named, 'signer');
  }
  const registrationCode = await getRegistrationCode(iot);
  if (!signer) {
    const result = checkVerification(certificate.caPem, certificate.verificationPem as string, registrationCode, now);
    return {
      verified: true,
      registrationCode,
      verificationCertificateId: result.certificateId,
      verificationSubject: result.subject,
      ownership: { method: 'verification-certificate' },
    };
  }
  const signed = await signVerification({
    signer,
    caPem: certificate.caPem,
    registrationCode,
    now,
    certificateId: certificate.certificateId,
  });
  // What the signer returned is checked like an operator's file: CN, signature, validity.
  const result = checkVerification(certificate.caPem, signed.verificationPem, registrationCode, now);
  logger.info('verification certificate signed', {
    certificateId: certificate.certificateId,
    signer: signer.value,
    signingAlgorithm: signed.signingAlgorithm,
    verificationCertificateId: result.certificateId,
  });
  return {
    verified: true,
    registrationCode,
    verificationCertificateId: result.certificateId,
    verificationSubject: result.subject,
    ownership: { method: signer.kind, signer: signer.value, signingAlgorithm: signed.signingAlgorithm },
    verificationPem: signed.verificationPem,
  };
};

const iot = createIotClient();
const defaultSigner = lazySigner();
export const handler = step({ input: VerifyOwnershipInputSchema, output: VerifyOwnershipOutputSchema }, (event) =>
  verifyOwnership(iot, event),
);
