import type { IoTClient } from '@aws-sdk/client-iot';
import { requireObject } from './lib/input.ts';
import { checkJitpTemplate, createIotClient, registerCa, type RegisteredCa } from './lib/iot.ts';
import { logger } from './lib/logger.ts';
import { step } from './lib/middleware.ts';
import type { LoadedCertificate, StepInput } from './lib/types.ts';

export interface RegisterCaInput extends StepInput {
  certificate: LoadedCertificate;
}

/**
 * Registers the CA as INACTIVE, or adopts it when it is already registered. The template is
 * checked first, so a misspelt or non-JITP template name registers nothing.
 */
export const register = async (iot: IoTClient, event: RegisterCaInput): Promise<RegisteredCa> => {
  const certificate = requireObject<LoadedCertificate>(event.certificate, 'certificate');
  await checkJitpTemplate(iot, certificate.templateName);
  const registered = await registerCa(iot, certificate);
  logger.info(registered.adopted ? 'adopted registered CA' : 'registered CA', {
    certificateId: registered.certificateId,
    status: registered.status,
  });
  return registered;
};

const iot = createIotClient();
export const handler = step((event: RegisterCaInput) => register(iot, event));
