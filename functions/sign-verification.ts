import type { IoTClient } from '@aws-sdk/client-iot';
import { PipelineError } from './core/errors.ts';
import { parseSigner } from './core/signer.ts';
import { createIotClient, getRegistrationCode } from './aws/iot.ts';
import { createSignerClients, signVerification as signWithService, type SignerClients } from './aws/signer.ts';
import { logger } from './lambda/logger.ts';
import { step } from './lambda/middleware.ts';
import {
  SignVerificationInputSchema,
  SignVerificationOutputSchema,
  type SignVerificationInput,
} from './core/schemas.ts';

/**
 * A CA whose key is held by AWS KMS or AWS Private CA (its `signer`, ADR 0024): fetches the
 * registration code and has the signer make the verification certificate for it. Returns the PEM
 * (public), which the state machine puts at `$.certificate.verificationPem`; VerifyOwnership then
 * checks it exactly as it checks an operator's file, and RegisterCa sends it. A step of its own,
 * so the KMS and Private CA clients and the certificate builder load only in flows that use them.
 */
export const signVerification = async (
  iot: IoTClient,
  signers: SignerClients,
  event: SignVerificationInput,
  now: Date = new Date(),
): Promise<string> => {
  const { certificate } = event;
  const named = certificate.ownership?.signer;
  if (!named) {
    throw new PipelineError('InvalidInputError', 'SignVerification runs only for a CA whose options name a signer.');
  }
  const signer = parseSigner(named, 'signer');
  const registrationCode = await getRegistrationCode(iot);
  const signed = await signWithService(signers, {
    signer,
    caPem: certificate.caPem,
    registrationCode,
    now,
    certificateId: certificate.certificateId,
  });
  logger.info('verification certificate signed', {
    certificateId: certificate.certificateId,
    signer: signer.value,
    signingAlgorithm: signed.signingAlgorithm,
  });
  return signed.verificationPem;
};

const iot = createIotClient();
// Built on first use: a flow asks one service, never both.
const signers = createSignerClients();
export const handler = step({ input: SignVerificationInputSchema, output: SignVerificationOutputSchema }, (event) =>
  signVerification(iot, signers, event),
);
