import type { IoTClient } from '@aws-sdk/client-iot';
import { requireObject, requireString } from './lib/input.ts';
import { convergeTags, createIotClient } from './lib/iot.ts';
import { step } from './lib/middleware.ts';
import type { Tags } from './lib/options.ts';
import type { StepInput } from './lib/types.ts';

export interface TagCaInput extends StepInput {
  certificateArn: string;
  tags: Tags;
}

export interface TagCaOutput {
  set: string[];
  removed: string[];
}

/** Makes the CA carry exactly the desired tags: missing or changed ones set, stray ones removed. */
export const tagCa = async (iot: IoTClient, event: TagCaInput): Promise<TagCaOutput> => {
  const changes = await convergeTags(iot, requireString(event.certificateArn, 'certificateArn'), requireObject<Tags>(event.tags, 'tags'));
  return { set: Object.keys(changes.set), removed: changes.removed };
};

const iot = createIotClient();
export const handler = step((event: TagCaInput) => tagCa(iot, event));
