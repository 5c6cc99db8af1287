import type { IoTClient } from '@aws-sdk/client-iot';
import { requireString } from './lib/input.ts';
import { activateCa, createIotClient } from './lib/iot.ts';
import { step } from './lib/middleware.ts';
import type { StepInput } from './lib/types.ts';

export interface ActivateInput extends StepInput {
  certificateId: string;
}

export interface ActivateOutput {
  status: 'ACTIVE';
  autoRegistrationStatus: 'ENABLE';
}

/** The only step that makes the CA live: every earlier step has converged when it runs. */
export const activate = async (iot: IoTClient, event: ActivateInput): Promise<ActivateOutput> => {
  await activateCa(iot, requireString(event.certificateId, 'certificateId'));
  return { status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' };
};

const iot = createIotClient();
export const handler = step((event: ActivateInput) => activate(iot, event));
