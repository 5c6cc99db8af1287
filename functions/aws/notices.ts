import { createHash } from 'node:crypto';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { PipelineError, isPipelineError } from '../core/errors.ts';
import type { PipelineEvent } from '../core/events.ts';
import { noticesPrefixFor } from '../core/source.ts';
import { logger } from '../lambda/logger.ts';
import { publishEvents } from './events.ts';
import { awsCall, awsErrorName } from './sdk-errors.ts';

/**
 * Once per cause (docs/adr/0028): before an event is published, a marker named after its cause is
 * created under `<results>notices/` with `If-None-Match: *`. S3 creates it for exactly one writer;
 * every other delivery, retry or run with the same cause gets 412 and publishes nothing. A publish
 * that fails releases the marker, so the next attempt publishes instead of losing the event.
 */
export interface NoticeDeps {
  s3: S3Client;
  events: EventBridgeClient;
  bucket: string;
  resultsPrefix: string;
  /** The bus to publish on (the default bus unless named). */
  eventBusName?: string;
}

/** Where the marker of one cause lives: its SHA-256, so any cause text makes a valid key. */
export const noticeKeyFor = (cause: string, resultsPrefix: string): string =>
  `${noticesPrefixFor(resultsPrefix)}${createHash('sha256').update(cause).digest('hex')}.json`;

const causeOf = (event: PipelineEvent): string => {
  const cause = event.detail.cause;
  if (typeof cause !== 'string' || cause === '')
    throw new PipelineError('EventPublishError', `A "${event.detailType}" event names no cause.`);
  return cause;
};

/** Creates the marker; false when it exists (this cause was announced already). */
export const claimNotice = async (deps: NoticeDeps, event: PipelineEvent): Promise<boolean> => {
  const cause = causeOf(event);
  try {
    await awsCall('PutObject', () =>
      deps.s3.send(
        new PutObjectCommand({
          Bucket: deps.bucket,
          Key: noticeKeyFor(cause, deps.resultsPrefix),
          IfNoneMatch: '*',
          ContentType: 'application/json',
          Body: `${JSON.stringify({ cause, detailType: event.detailType, claimedAt: new Date().toISOString() })}\n`,
        }),
      ),
    );
    return true;
  } catch (error) {
    const name = awsErrorName(error) ?? '';
    if (name === 'PreconditionFailed') return false;
    // Another writer's create of the same marker is in flight: ask again later, it may release it.
    if (name === 'ConditionalRequestConflict')
      throw new PipelineError('ServiceFaultError', `PutObject: ${name} on the notice of ${event.detailType}`, {
        cause: error,
      });
    throw error;
  }
};

const releaseNotice = async (deps: NoticeDeps, event: PipelineEvent): Promise<void> => {
  await awsCall('DeleteObject', () =>
    deps.s3.send(
      new DeleteObjectCommand({ Bucket: deps.bucket, Key: noticeKeyFor(causeOf(event), deps.resultsPrefix) }),
    ),
  ).catch((error: unknown) =>
    // The marker stays: this cause is not announced again (logged so that it can be found).
    logger.error('could not release a notice after a failed publish', {
      detailType: event.detailType,
      errorName: awsErrorName(error),
    }),
  );
};

/**
 * Publishes the events whose cause was not announced before, at most 10 claims at a time (one
 * PutEvents call). Returns those published. A failed publish releases its claims and throws
 * (ThrottledError/ServiceFaultError for what a retry can fix, EventPublishError otherwise).
 */
export const publishOncePerCause = async (deps: NoticeDeps, events: PipelineEvent[]): Promise<PipelineEvent[]> => {
  const published: PipelineEvent[] = [];
  for (let start = 0; start < events.length; start += 10) {
    const claimed: PipelineEvent[] = [];
    for (const event of events.slice(start, start + 10)) if (await claimNotice(deps, event)) claimed.push(event);
    if (claimed.length === 0) continue;
    try {
      await publishEvents(deps.events, claimed, deps.eventBusName);
    } catch (error) {
      await Promise.all(claimed.map((event) => releaseNotice(deps, event)));
      throw error;
    }
    published.push(...claimed);
  }
  return published;
};

/** For callers whose own work is done: a transient failure is thrown (retried), any other only logged. */
export const transientOnly = (error: unknown, what: string): void => {
  if (isPipelineError(error, 'ThrottledError') || isPipelineError(error, 'ServiceFaultError')) throw error;
  logger.error(`${what}: not published`, {
    errorName: (error as Error)?.name,
    errorMessage: (error as Error)?.message,
  });
};
