/**
 * EventBridge's PutEvents as the local default bus serves it, validated as AWS validates it
 * (API reference "PutEvents", user guide "Sending events with PutEvents" and "Calculating PutEvents
 * event entry size"): 1–10 entries, at most 256 KB in all; each entry needs Source, DetailType
 * and a Detail that is a JSON object, else it fails on its own (ErrorCode, ErrorMessage) while
 * the others go through. The call's errors are those @aws-sdk/client-eventbridge's model lists
 * for PutEvents (InternalException) plus the front end's (json11.ts); IAM's denial is
 * AccessDeniedException for the whole call.
 */
import { randomUUID } from 'node:crypto';
import { AwsJsonError, FRONT_END_ERRORS, validationError } from '../json11.ts';
import type { BusEvent } from './bus.ts';

/** The errors each operation's model lists (test/local/events-putevents.test.ts checks them). */
export const OPERATION_ERRORS = { PutEvents: ['InternalException'] } as const;

export const MAX_ENTRIES = 10;
/** 256 KB, the total entry size PutEvents accepts. */
export const MAX_REQUEST_BYTES = 256 * 1024;

export interface PutEventsEntry {
  Time?: number | string;
  Source?: string;
  Resources?: string[];
  DetailType?: string;
  Detail?: string;
  EventBusName?: string;
  TraceHeader?: string;
}

export interface Place {
  region: string;
  account: string;
}

/** The default bus's ARN: what IAM evaluates `events:PutEvents` on. */
export const defaultBusArn = (place: Place): string =>
  `arn:aws:events:${place.region}:${place.account}:event-bus/default`;

/** The bus an entry names, as an ARN (a name, the default, or an ARN as given). */
export const busArnOf = (entry: PutEventsEntry, place: Place): string => {
  const name = entry.EventBusName ?? 'default';
  return name.startsWith('arn:') ? name : `arn:aws:events:${place.region}:${place.account}:event-bus/${name}`;
};

/** An entry's size as AWS counts it: Time 14 bytes, then Source, DetailType, Detail and each Resource in UTF-8. */
export const entrySize = (entry: PutEventsEntry): number =>
  (entry.Time !== undefined ? 14 : 0) +
  [entry.Source, entry.DetailType, entry.Detail, ...(entry.Resources ?? [])].reduce(
    (total, part) => total + (typeof part === 'string' ? Buffer.byteLength(part) : 0),
    0,
  );

type EntryResult = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

const invalid = (member: string): EntryResult => ({
  ErrorCode: 'InvalidArgument',
  ErrorMessage: `Parameter ${member} is not valid. Reason: ${member} is a required argument.`,
});

const timeOf = (time: PutEventsEntry['Time']): string => {
  // The SDK sends a timestamp as epoch seconds (JSON 1.1); an entry without one gets the call's time.
  const date = time === undefined ? new Date() : new Date(typeof time === 'number' ? time * 1000 : time);
  return (Number.isNaN(date.getTime()) ? new Date() : date).toISOString().replace(/\.\d{3}Z$/, 'Z');
};

/** Validates and accepts one entry: the event it puts on the bus, or its error. */
const acceptEntry = (entry: PutEventsEntry, place: Place): { result: EntryResult; event?: BusEvent } => {
  for (const member of ['Source', 'DetailType', 'Detail'] as const)
    if (typeof entry[member] !== 'string' || entry[member] === '') return { result: invalid(member) };
  let detail: unknown;
  try {
    detail = JSON.parse(entry.Detail as string);
  } catch {
    detail = undefined;
  }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail))
    return { result: { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' } };
  if (busArnOf(entry, place) !== defaultBusArn(place))
    return {
      result: {
        ErrorCode: 'ResourceNotFoundException',
        ErrorMessage: `Event bus ${entry.EventBusName} does not exist.`,
      },
    };
  // Sources starting `aws.` are AWS services' own; no account may put them.
  if ((entry.Source as string).startsWith('aws.'))
    return { result: { ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' } };
  const id = randomUUID();
  return {
    result: { EventId: id },
    event: {
      version: '0',
      id,
      'detail-type': entry.DetailType as string,
      source: entry.Source as string,
      account: place.account,
      time: timeOf(entry.Time),
      region: place.region,
      resources: entry.Resources ?? [],
      detail,
    },
  };
};

/** PutEvents: validates the call, puts each accepted entry on the bus, answers per entry. */
export const putEvents = (body: Record<string, unknown>, place: Place, put: (event: BusEvent) => void) => {
  const entries = body.Entries as PutEventsEntry[] | undefined;
  if (entries === undefined || entries === null) throw validationError('entries', undefined, 'Member must not be null');
  if (!Array.isArray(entries)) throw validationError('entries', entries, 'Member must be a list');
  if (entries.length < 1 || entries.length > MAX_ENTRIES)
    throw validationError(
      'entries',
      JSON.stringify(entries).slice(0, 64),
      entries.length < 1
        ? 'Member must have length greater than or equal to 1'
        : `Member must have length less than or equal to ${MAX_ENTRIES}`,
    );
  const size = entries.reduce((total, entry) => total + entrySize(entry ?? {}), 0);
  if (size > MAX_REQUEST_BYTES)
    throw new AwsJsonError('ValidationException', 400, 'Total size of the entries in the request is over the limit.');
  const accepted = entries.map((entry) => acceptEntry(entry ?? {}, place));
  for (const { event } of accepted) if (event) put(event);
  const results = accepted.map(({ result }) => result);
  return { FailedEntryCount: results.filter((result) => 'ErrorCode' in result).length, Entries: results };
};

/** The error to answer: a front-end error or one the model lists, else InternalException. */
export const answerable = (operation: string | undefined, error: unknown): AwsJsonError => {
  if (error instanceof AwsJsonError) {
    if ((FRONT_END_ERRORS as readonly string[]).includes(error.name)) return error;
    const listed: readonly string[] | undefined = OPERATION_ERRORS[operation as keyof typeof OPERATION_ERRORS];
    if (listed?.includes(error.name)) return error;
  }
  return new AwsJsonError('InternalException', 500, `Emulator error: ${(error as Error)?.message ?? String(error)}`);
};
