import type { IoTClient } from '@aws-sdk/client-iot';
import { requireString } from './lib/input.ts';
import { checkJitpTemplate, createIotClient, setCaTemplate } from './lib/iot.ts';
import { step } from './lib/middleware.ts';
import type { StepInput } from './lib/types.ts';

export interface AttachTemplateInput extends StepInput {
  certificateId: string;
  templateName: string;
}

export interface AttachTemplateOutput {
  templateName: string;
}

/** Checks the template is a JITP template, then names it in the CA's registration config. */
export const attachTemplate = async (iot: IoTClient, event: AttachTemplateInput): Promise<AttachTemplateOutput> => {
  const certificateId = requireString(event.certificateId, 'certificateId');
  const templateName = requireString(event.templateName, 'templateName');
  await checkJitpTemplate(iot, templateName);
  await setCaTemplate(iot, certificateId, templateName);
  return { templateName };
};

const iot = createIotClient();
export const handler = step((event: AttachTemplateInput) => attachTemplate(iot, event));
