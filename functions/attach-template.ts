import type { IoTClient } from '@aws-sdk/client-iot';
import { checkJitpTemplate, createIotClient, setCaTemplate } from './aws/iot.ts';
import { step } from './lambda/middleware.ts';
import {
  AttachTemplateInputSchema,
  AttachTemplateOutputSchema,
  type AttachTemplateInput,
  type AttachTemplateOutput,
} from './core/schemas.ts';

/** Checks the template is a JITP template, then names it in the CA's registration config. */
export const attachTemplate = async (iot: IoTClient, event: AttachTemplateInput): Promise<AttachTemplateOutput> => {
  const { certificateId, templateName } = event;
  await checkJitpTemplate(iot, templateName);
  await setCaTemplate(iot, certificateId, templateName);
  return { templateName };
};

const iot = createIotClient();
export const handler = step({ input: AttachTemplateInputSchema, output: AttachTemplateOutputSchema }, (event) =>
  attachTemplate(iot, event),
);
