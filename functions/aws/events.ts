import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { PipelineError } from '../core/errors.ts';
import { EVENT_SOURCE, type PipelineEvent } from '../core/events.ts';
import { SDK_MAX_ATTEMPTS, awsCall } from './sdk-errors.ts';

export const createEventsClient = (): EventBridgeClient => new EventBridgeClient({ maxAttempts: SDK_MAX_ATTEMPTS });

/** PutEvents takes at most 10 entries per call. */
const BATCH = 10;

/** Failed-entry codes worth retrying (PutEvents answers 200 and lists them per entry). */
const THROTTLED_ENTRY = new Set(['ThrottlingException']);
const TRANSIENT_ENTRY = new Set(['InternalException', 'InternalFailure', 'ServiceUnavailable']);

const toEntry = (event: PipelineEvent, eventBusName: string): PutEventsRequestEntry => ({
  Source: EVENT_SOURCE,
  DetailType: event.detailType,
  Detail: JSON.stringify(event.detail),
  EventBusName: eventBusName,
  ...(event.resources?.length ? { Resources: event.resources } : {}),
});

/**
 * Publishes the pipeline's events on the bus (the default bus unless named). A call that fails, or
 * an entry EventBridge refuses, throws: ThrottledError or ServiceFaultError for what a retry can
 * fix (the state machine's budgets), EventPublishError otherwise. Entries of a batch that were
 * accepted stay published; callers that retry publish once per cause by keying their own claim.
 */
export const publishEvents = async (
  client: EventBridgeClient,
  events: PipelineEvent[],
  eventBusName = 'default',
): Promise<void> => {
  for (let start = 0; start < events.length; start += BATCH) {
    const entries = events.slice(start, start + BATCH).map((event) => toEntry(event, eventBusName));
    const response = await awsCall('PutEvents', () => client.send(new PutEventsCommand({ Entries: entries })));
    if (!response.FailedEntryCount) continue;
    const failed = (response.Entries ?? []).filter((entry) => entry.ErrorCode);
    const codes = [...new Set(failed.map((entry) => entry.ErrorCode as string))];
    const message = `PutEvents: ${response.FailedEntryCount} of ${entries.length} entries refused (${codes.join(', ')}).`;
    if (codes.every((code) => THROTTLED_ENTRY.has(code))) throw new PipelineError('ThrottledError', message);
    if (codes.every((code) => THROTTLED_ENTRY.has(code) || TRANSIENT_ENTRY.has(code)))
      throw new PipelineError('ServiceFaultError', message);
    throw new PipelineError('EventPublishError', message);
  }
};
