import type { IoTClient } from '@aws-sdk/client-iot';
import { activateCa, createIotClient } from './aws/iot.ts';
import { step } from './lambda/middleware.ts';
import { ActivateInputSchema, ActivateOutputSchema, type ActivateInput, type ActivateOutput } from './core/schemas.ts';

/** The only step that makes the CA live: every earlier step has converged when it runs. */
export const activate = async (iot: IoTClient, event: ActivateInput): Promise<ActivateOutput> => {
  await activateCa(iot, event.certificateId);
  return { status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' };
};

const iot = createIotClient();
export const handler = step({ input: ActivateInputSchema, output: ActivateOutputSchema }, (event) =>
  activate(iot, event),
);
