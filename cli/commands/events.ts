/**
 * `iot-ca events`: the pipeline's own events (`source: iot-ca-pipeline`), oldest first. Locally
 * from the state directory's events file (JSON lines of event envelopes, written by the local
 * bus's log rule: no stack is started to read it); on AWS from the CloudWatch Logs group the
 * events rule feeds (Output `EventsLogGroupName`), with FilterLogEvents. `--follow` keeps
 * reading until Ctrl-C, which ends it with exit 0.
 */
import { existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { CloudWatchLogsClient, paginateFilterLogEvents } from '@aws-sdk/client-cloudwatch-logs';
import { DETAIL_TYPES, EVENT_SOURCE } from '../../functions/core/events.ts';
import { deployedTarget, type GlobalOptions, localEventsLogFile } from '../context.ts';
import { CliError, type Output } from '../output.ts';
import { type EventEnvelope, eventLine } from '../render.ts';

export interface EventsOptions {
  follow?: boolean;
  since?: string;
  type?: string;
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `--since`: a duration back from now (`30s`, `15m`, `2h`, `7d`, `1w`) or an ISO 8601 time; epoch ms. */
export const parseSince = (value: string, now = Date.now()): number => {
  const text = value.trim();
  const duration = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(text);
  if (duration) return now - Number(duration[1]) * (UNITS[(duration[2] as string).toLowerCase()] as number);
  // A date needs at least a year-month-day: "5" or "now" would parse as something else entirely.
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at))
    throw new CliError(
      'UsageError',
      `--since is "${value}"; expected a duration back from now (30s, 15m, 2h, 7d, 1w) or an ISO 8601 time (2026-12-05T04:00:00Z).`,
      2,
    );
  return at;
};

/** `--type`: one of the catalogue's detail-types, matched without regard to case ("ca retired"). */
export const parseDetailType = (value: string): string => {
  const wanted = value.trim().toLowerCase();
  const type = DETAIL_TYPES.find((each) => each.toLowerCase() === wanted);
  if (!type)
    throw new CliError(
      'UsageError',
      `--type is "${value}"; the pipeline's detail-types are ${DETAIL_TYPES.map((each) => `"${each}"`).join(', ')}.`,
      2,
    );
  return type;
};

export interface EventFilter {
  since?: number;
  type?: string;
}

export const eventFilter = (options: EventsOptions, now = Date.now()): EventFilter => ({
  ...(options.since !== undefined ? { since: parseSince(options.since, now) } : {}),
  ...(options.type !== undefined ? { type: parseDetailType(options.type) } : {}),
});

/** A parsed envelope of the pipeline's, or undefined for anything else (another source, a torn line). */
export const parseEnvelope = (line: string): EventEnvelope | undefined => {
  try {
    const event = JSON.parse(line) as EventEnvelope;
    if (event?.source !== EVENT_SOURCE || typeof event.id !== 'string' || typeof event['detail-type'] !== 'string')
      return undefined;
    return { ...event, detail: event.detail ?? {} };
  } catch {
    return undefined;
  }
};

export const matches = (event: EventEnvelope, filter: EventFilter): boolean =>
  (filter.type === undefined || event['detail-type'] === filter.type) &&
  (filter.since === undefined || Date.parse(event.time) >= filter.since);

/** Oldest first; EventBridge's `time` has second precision, so the id breaks ties stably. */
const byTime = (a: EventEnvelope, b: EventEnvelope): number =>
  Date.parse(a.time) - Date.parse(b.time) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Reads a JSON-lines file from a byte offset: the complete lines since, and where the next read
 * starts (a line still being written is left for the next read). A file that shrank (replaced)
 * is read again from its start.
 */
export class EventsFile {
  private offset = 0;

  constructor(readonly path: string) {}

  read(): EventEnvelope[] {
    if (!existsSync(this.path)) return [];
    const size = statSync(this.path).size;
    if (size < this.offset) this.offset = 0;
    if (size === this.offset) return [];
    const buffer = Buffer.alloc(size - this.offset);
    const fd = openSync(this.path, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, this.offset);
    } finally {
      closeSync(fd);
    }
    const end = buffer.lastIndexOf(0x0a);
    if (end < 0) return [];
    this.offset += end + 1;
    return buffer
      .subarray(0, end)
      .toString('utf8')
      .split('\n')
      .map(parseEnvelope)
      .filter((event): event is EventEnvelope => event !== undefined);
  }
}

/** The log group's events from `startTime` (ms), all pages; each message is one envelope. */
export const fetchLogEvents = async (
  logs: CloudWatchLogsClient,
  logGroupName: string,
  startTime: number | undefined,
): Promise<Array<{ event: EventEnvelope; timestamp: number }>> => {
  const found: Array<{ event: EventEnvelope; timestamp: number }> = [];
  try {
    for await (const page of paginateFilterLogEvents(
      { client: logs },
      { logGroupName, ...(startTime !== undefined ? { startTime } : {}) },
    )) {
      for (const logEvent of page.events ?? []) {
        const event = logEvent.message ? parseEnvelope(logEvent.message) : undefined;
        if (event) found.push({ event, timestamp: logEvent.timestamp ?? Date.parse(event.time) });
      }
    }
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException')
      throw new CliError(
        'EventsLogNotFoundError',
        `The log group ${logGroupName} does not exist: redeploy the stack (npx serverless deploy), which creates it with the events rule.`,
      );
    throw error;
  }
  return found;
};

/** Prints each event not printed yet (by id), in order. */
class Printer {
  private readonly seen = new Set<string>();

  constructor(
    private readonly out: Output,
    private readonly filter: EventFilter,
  ) {}

  print(events: EventEnvelope[]): void {
    for (const event of [...events].sort(byTime)) {
      if (this.seen.has(event.id)) continue;
      this.seen.add(event.id);
      if (matches(event, this.filter)) this.out.event(event as unknown as Record<string, unknown>, eventLine(event));
    }
  }
}

/** Resolves on Ctrl-C (or SIGTERM): --follow ends there, successfully. */
const interrupted = (): { promise: Promise<void>; stopped: () => boolean } => {
  let stopped = false;
  const promise = new Promise<void>((resolve) => {
    const stop = () => {
      stopped = true;
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return { promise, stopped: () => stopped };
};

const pause = (ms: number, until: Promise<void>) =>
  Promise.race([new Promise<void>((resolve) => setTimeout(resolve, ms)), until]);

/** How often --follow looks again: the local file cheaply, CloudWatch Logs every ~2 s. */
export const FOLLOW_INTERVAL_MS = { local: 250, aws: 2_000 };
/** How far back each --follow read on AWS starts before the last event seen. */
const LATE_DELIVERY_MS = 10_000;

export const events = async (options: EventsOptions, global: GlobalOptions, out: Output): Promise<number> => {
  const filter = eventFilter(options);
  const printer = new Printer(out, filter);
  const stop = options.follow ? interrupted() : undefined;

  if (global.local) {
    const file = new EventsFile(await localEventsLogFile());
    if (!existsSync(file.path))
      out.progress(
        `no events yet: ${file.path} does not exist (the local stack writes it when the pipeline publishes its first event)`,
      );
    printer.print(file.read());
    while (stop && !stop.stopped()) {
      await pause(FOLLOW_INTERVAL_MS.local, stop.promise);
      printer.print(file.read());
    }
    return 0;
  }

  const target = await deployedTarget(global);
  await target.close();
  if (target.events.kind !== 'log-group' || !target.events.logGroupName)
    throw new CliError(
      'StackNotFoundError',
      `Stack iot-ca-pipeline-${global.stage ?? 'dev'} has no output EventsLogGroupName: redeploy it (npx serverless deploy) to get the events log group.`,
    );
  const logGroupName = target.events.logGroupName;
  const logs = new CloudWatchLogsClient(target.events.region ? { region: target.events.region } : {});
  try {
    let found = await fetchLogEvents(logs, logGroupName, filter.since);
    printer.print(found.map((each) => each.event));
    let last = Math.max(filter.since ?? 0, ...found.map((each) => each.timestamp));
    while (stop && !stop.stopped()) {
      await pause(FOLLOW_INTERVAL_MS.aws, stop.promise);
      if (stop.stopped()) break;
      // From a little before the last timestamp seen: an event delivered late is indexed under
      // its earlier time, and what comes again is dropped by id.
      found = await fetchLogEvents(logs, logGroupName, last > 0 ? last - LATE_DELIVERY_MS : undefined);
      printer.print(found.map((each) => each.event));
      last = Math.max(last, ...found.map((each) => each.timestamp));
    }
    return 0;
  } finally {
    logs.destroy();
  }
};
