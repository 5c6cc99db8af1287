import type { IoTClient } from '@aws-sdk/client-iot';
import { convergeTags, createIotClient } from './aws/iot.ts';
import { step } from './lambda/middleware.ts';
import { TagCaInputSchema, TagCaOutputSchema, type TagCaInput, type TagCaOutput } from './core/schemas.ts';

/** Makes the CA carry exactly the desired tags: missing or changed ones set, stray ones removed. */
export const tagCa = async (iot: IoTClient, event: TagCaInput): Promise<TagCaOutput> => {
  const changes = await convergeTags(iot, event.certificateArn, event.tags);
  return { set: Object.keys(changes.set), removed: changes.removed };
};

const iot = createIotClient();
export const handler = step({ input: TagCaInputSchema, output: TagCaOutputSchema }, (event) => tagCa(iot, event));
