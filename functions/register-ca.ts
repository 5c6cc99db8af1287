import type { IoTClient } from '@aws-sdk/client-iot';
import { checkJitpTemplate, createIotClient, registerCaCertificate, type RegisteredCa } from './aws/iot.ts';
import { logger } from './lambda/logger.ts';
import { step } from './lambda/middleware.ts';
import { RegisterCaInputSchema, RegisteredCaSchema, type RegisterCaInput } from './core/schemas.ts';

/**
 * Registers the CA (ACTIVE, with its template and tags: docs/adr/0027), or adopts it when it is
 * already registered. The template is
 * checked first, so a misspelt or non-JITP template name registers nothing.
 */
export const registerCa = async (iot: IoTClient, event: RegisterCaInput): Promise<RegisteredCa> => {
  const { certificate } = event;
  await checkJitpTemplate(iot, certificate.templateName);
  const registered = await registerCaCertificate(iot, certificate);
  logger.info(registered.adopted ? 'adopted registered CA' : 'registered CA', {
    certificateId: registered.certificateId,
    status: registered.status,
  });
  return registered;
};

const iot = createIotClient();
export const handler = step({ input: RegisterCaInputSchema, output: RegisteredCaSchema }, (event) =>
  registerCa(iot, event),
);
