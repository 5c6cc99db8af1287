/**
 * Pending announcements (docs/adr/0030): the `CA Registered` / `CA Drift Repaired` events that
 * register-ca's Announce could not publish, which its NotAnnounced state wrote under
 * `<results>notices/pending/<execution name>.json`. ReconcileReport delivers them: each is
 * published once per cause (docs/adr/0028), then deleted.
 */
import { DeleteObjectCommand, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { isPipelineError, PipelineError } from '../core/errors.ts';
import { pendingNoticeEvent, type PipelineEvent } from '../core/events.ts';
import { pendingNoticesPrefixFor } from '../core/source.ts';
import { logger } from '../lambda/logger.ts';
import { type NoticeDeps, publishOncePerCause } from './notices.ts';
import { findJson, putJson } from './s3.ts';
import { awsCall, awsErrorName, awsPages } from './sdk-errors.ts';

/** What one delivery pass did. */
export interface PendingDelivery {
  /** Events published (a pending announcement whose cause was announced already is deleted, not counted). */
  delivered: number;
  /** Pending announcements left in place because they are not what register-ca writes (logged). */
  malformed: number;
  /** The first transient failure: the pass stopped there, the rest stays for the retry or the next run. */
  failure?: unknown;
}

/** The keys under notices/pending/, in key order (ListObjectsV2, every page). */
export const listPendingNotices = async (deps: NoticeDeps): Promise<string[]> => {
  const keys: string[] = [];
  const pages = paginateListObjectsV2(
    { client: deps.s3 },
    { Bucket: deps.bucket, Prefix: pendingNoticesPrefixFor(deps.resultsPrefix) },
  );
  for await (const page of awsPages('ListObjectsV2', pages))
    for (const object of page.Contents ?? []) if (object.Key?.endsWith('.json')) keys.push(object.Key);
  return keys;
};

/** One pending announcement as JSON and as the event it holds; undefined when it is gone (delivered by another run). */
const readPendingNotice = async (
  deps: NoticeDeps,
  key: string,
): Promise<{ value: unknown; event: PipelineEvent } | undefined> => {
  const value = await findJson<unknown>(deps.s3, deps.bucket, key).catch((error: unknown) => {
    throw error instanceof SyntaxError
      ? new PipelineError('MalformedPendingNoticeError', `${key} is not JSON.`)
      : error;
  });
  return value === undefined ? undefined : { value, event: pendingNoticeEvent(value, key) };
};

const deletePendingNotice = async (deps: NoticeDeps, key: string): Promise<void> => {
  await awsCall('DeleteObject', () => deps.s3.send(new DeleteObjectCommand({ Bucket: deps.bucket, Key: key })));
};

/**
 * Writes a pending announcement back after its publish failed: a run that found the cause claimed
 * (by this one, in flight) may have deleted it meanwhile. Best effort: logged if it fails too.
 */
const restorePendingNotice = async (deps: NoticeDeps, key: string, value: unknown): Promise<void> => {
  await putJson(deps.s3, deps.bucket, key, value).catch((error: unknown) =>
    logger.error('could not restore a pending announcement after a failed publish', {
      key,
      errorName: awsErrorName(error),
    }),
  );
};

const errorFields = (error: unknown) => ({
  errorName: (error as Error)?.name,
  errorMessage: (error as Error)?.message,
});

const isTransient = (error: unknown): boolean =>
  isPipelineError(error, 'ThrottledError') || isPipelineError(error, 'ServiceFaultError');

/**
 * Publishes every pending announcement once per cause and deletes it. Never throws: a malformed
 * one is logged (MalformedPendingNoticeError) and left in place; a transient failure stops the
 * pass and is returned, for the caller to throw once its own work is done (the step's retry, or
 * the next run, delivers the rest); any other failure of one announcement is logged and it stays.
 * An event published whose pending object could not be deleted is not published again: the next
 * run finds its cause announced (412 on the marker) and only deletes it.
 */
export const deliverPendingNotices = async (deps: NoticeDeps): Promise<PendingDelivery> => {
  const result: PendingDelivery = { delivered: 0, malformed: 0 };
  let keys: string[];
  try {
    keys = await listPendingNotices(deps);
  } catch (error) {
    if (isTransient(error)) return { ...result, failure: error };
    logger.error('pending announcements: could not list them', errorFields(error));
    return result;
  }
  for (const key of keys) {
    let pending: Awaited<ReturnType<typeof readPendingNotice>>;
    try {
      pending = await readPendingNotice(deps, key);
    } catch (error) {
      if (isTransient(error)) return { ...result, failure: error };
      if (isPipelineError(error, 'MalformedPendingNoticeError')) result.malformed += 1;
      logger.error('pending announcement left in place', { key, ...errorFields(error) });
      continue;
    }
    if (!pending) continue;
    try {
      result.delivered += (await publishOncePerCause(deps, [pending.event])).length;
    } catch (error) {
      await restorePendingNotice(deps, key, pending.value);
      if (isTransient(error)) return { ...result, failure: error };
      logger.error('pending announcement not published, left in place', { key, ...errorFields(error) });
      continue;
    }
    try {
      await deletePendingNotice(deps, key);
    } catch (error) {
      logger.error('pending announcement published but not deleted: the next run deletes it', {
        key,
        ...errorFields(error),
      });
    }
  }
  return result;
};
