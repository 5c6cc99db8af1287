import type { IoTClient } from '@aws-sdk/client-iot';
import { createIotClient, getRegistrationCode } from './lib/iot.ts';
import { step } from './lib/middleware.ts';
import type { StepInput } from './lib/types.ts';

export interface RegistrationCodeOutput {
  registrationCode: string;
}

/** The account's registration code: stable until someone deletes it, so re-runs see the same one. */
export const fetchRegistrationCode = async (iot: IoTClient): Promise<RegistrationCodeOutput> => ({
  registrationCode: await getRegistrationCode(iot),
});

const iot = createIotClient();
export const handler = step((_event: StepInput) => fetchRegistrationCode(iot));
