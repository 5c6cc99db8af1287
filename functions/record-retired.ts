import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';
import { createEventsClient, publishEvents } from './aws/events.ts';
import { createS3Client, findJson, putJson, skipNotJson } from './aws/s3.ts';
import { step } from './lambda/middleware.ts';
import {
  buildRetiredReceipt,
  RecordRetiredInputSchema,
  RecordRetiredOutputSchema,
  retiredEvent,
  type RecordRetiredInput,
} from './core/retire.ts';
import type * as z from 'zod/mini';

export interface RecordRetiredDeps {
  s3: S3Client;
  events: EventBridgeClient;
  now?: () => Date;
}

/**
 * The retired receipt (`results/retired/<certificateId>.json`), written when the CA is INACTIVE
 * (phase `retired`, which also publishes `CA Retired`: the claim made it this execution's alone)
 * and again when its policy is done (phase `final`: revoked counts, deleted or cancelled).
 */
export const recordRetired = async (
  deps: RecordRetiredDeps,
  event: RecordRetiredInput,
): Promise<z.infer<typeof RecordRetiredOutputSchema>> => {
  const { plan } = event.state;
  const receipt = buildRetiredReceipt(event, deps.now?.() ?? new Date(), event.executionId ?? 'unknown');
  const receiptKey = plan.receiptKey as string;
  // Published before the receipt is written: a CA whose receipt says retired was announced (a
  // rerun that finds the receipt ends as already-retired), at worst twice after a crash in between.
  // A receipt already naming this cause (a rerun after a later step failed and released the
  // claim) was announced: not again.
  let published = false;
  if (event.phase === 'retired') {
    const previous = await findJson<{ cause?: unknown }>(deps.s3, plan.bucket as string, receiptKey).catch(skipNotJson);
    if (previous?.cause !== plan.cause) {
      await publishEvents(deps.events, [retiredEvent(receipt, receiptKey)]);
      published = true;
    }
  }
  await putJson(deps.s3, plan.bucket as string, receiptKey, receipt);
  return { receiptKey, outcome: receipt.outcome, published };
};

const deps: RecordRetiredDeps = { s3: createS3Client(), events: createEventsClient() };
export const handler = step({ input: RecordRetiredInputSchema, output: RecordRetiredOutputSchema }, (event) =>
  recordRetired(deps, event),
);
