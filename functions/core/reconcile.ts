/**
 * Reconciliation, pure: what the bucket says should exist (the CA objects and the receipts
 * RecordResult wrote for them) against what IoT has. The shallow plan needs only bulk listings
 * (ListCACertificates, its templateName filter, the S3 listings) and the receipts' snapshot, which
 * spares reading a receipt the listing shows unchanged; the deep check adds DescribeCACertificate
 * and ListTagsForResource per CA for what no listing shows.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { isTransientFailure } from './errors.ts';
import { daysLeft, expiresWithin } from './expiry.ts';
import type { FailureReport, Receipt } from './results.ts';
import type { Tags } from './options.ts';
import type { ReconcileCounts } from './schemas.ts';
import { define } from './define.ts';

/** A CA object under the incoming prefix, from the S3 listing. */
export interface ListedObject {
  key: string;
  etag: string;
  /** When this content was uploaded: its own event-started flow may still be running. */
  lastModified?: Date;
}

/** A CA as ListCACertificates shows it. */
export interface ListedCa {
  certificateId: string;
  certificateArn: string;
  status: string;
}

/** What the pipeline last made of an object, from its receipt. */
export type ResultDocument = Receipt | FailureReport;

const SourceSummarySchema = /* @__PURE__ */ define(() => z.object({ key: z.string(), etag: z.optional(z.string()) }));

/**
 * What the plan reads of a receipt or failure report, and all the snapshot keeps of it: a
 * ResultDocument is one, so the plan takes either.
 */
export const ResultSummarySchema = /* @__PURE__ */ define(() =>
  z.discriminatedUnion('outcome', [
    z.object({
      outcome: z.literal('ACTIVE'),
      source: SourceSummarySchema,
      certificateId: z.string(),
      certificateMode: z.string(),
      templateName: z.string(),
      tags: z.record(z.string(), z.string()),
      notAfter: z.string(),
    }),
    z.object({
      outcome: z.literal('FAILED'),
      source: SourceSummarySchema,
      error: z.object({ name: z.string() }),
      /** The receipt this failure replaced: its CA is still live (an orphan if the object goes). */
      previous: z.optional(z.object({ certificateId: z.string() })),
    }),
  ]),
);
export type ResultSummary = z.infer<typeof ResultSummarySchema>;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/**
 * What the plan needs of a result object, read leniently (a report written before a field existed
 * still counts, ADR 0001); undefined when it is no result at all (no source key, or an outcome the
 * plan does not know): its object then counts as never registered, as with no receipt.
 */
export const summarizeResult = (document: unknown): ResultSummary | undefined => {
  if (!isRecord(document) || !isRecord(document.source) || typeof document.source.key !== 'string') return undefined;
  const { key, etag } = document.source;
  const source = { key, ...(typeof etag === 'string' ? { etag } : {}) };
  if (document.outcome === 'FAILED') {
    const error = isRecord(document.error) ? document.error : {};
    const previous = isRecord(document.previous) ? text(document.previous.certificateId) : '';
    return {
      outcome: 'FAILED',
      source,
      error: { name: text(error.name) || 'UnknownError' },
      ...(previous ? { previous: { certificateId: previous } } : {}),
    };
  }
  if (document.outcome !== 'ACTIVE') return undefined;
  const tags = isRecord(document.tags) ? document.tags : {};
  return {
    outcome: 'ACTIVE',
    source,
    certificateId: text(document.certificateId),
    certificateMode: text(document.certificateMode),
    templateName: text(document.templateName),
    tags: Object.fromEntries(
      Object.entries(tags).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
    ),
    notAfter: text(document.notAfter),
  };
};

/** The schema tag of the receipts' snapshot: a snapshot with another is rebuilt, not misread. */
export const SNAPSHOT_SCHEMA = 'iot-ca-pipeline/reconcile-snapshot@1';

/** One result object as the plan last read it: its ETag then, and its summary (null: not a result). */
export interface SnapshotEntry {
  etag: string;
  result: ResultSummary | null;
}

const SnapshotSchema = /* @__PURE__ */ define(() =>
  z.object({
    schema: z.literal(SNAPSHOT_SCHEMA),
    /** By result key (`results/<source key>.json`). */
    results: z.record(z.string(), z.object({ etag: z.string(), result: z.nullable(ResultSummarySchema) })),
  }),
);

/**
 * What earlier runs learnt from each result object, keyed by its key and ETag. An entry is only
 * trusted while the listing shows the same ETag (the same content), so any snapshot, however old
 * or written by whichever of two concurrent runs, is a sound cache: at worst it costs reads.
 */
export type ResultSnapshot = z.infer<typeof SnapshotSchema>;

/** The snapshot if it is one this code wrote; undefined (rebuild it) for anything else. */
export const parseSnapshot = (value: unknown): ResultSnapshot | undefined => {
  const parsed = SnapshotSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
};

/** The listed result objects the snapshot does not know as they are now: new or replaced. */
export const resultsToRead = (listed: ListedObject[], snapshot: ResultSnapshot | undefined): ListedObject[] =>
  listed.filter((object) => snapshot?.results[object.key]?.etag !== object.etag);

/**
 * The snapshot after this run: for each listed result object, what was read of it now, else the
 * previous entry if its ETag still matches. Entries whose object is gone (a receipt deleted) drop
 * out. `changed` says whether it differs from the previous one, i.e. whether to write it.
 */
export const nextSnapshot = (
  listed: ListedObject[],
  previous: ResultSnapshot | undefined,
  read: Map<string, SnapshotEntry>,
): { snapshot: ResultSnapshot; changed: boolean } => {
  const results: Record<string, SnapshotEntry> = {};
  for (const object of listed) {
    const entry = read.get(object.key) ?? previous?.results[object.key];
    if (entry && (read.has(object.key) || entry.etag === object.etag)) results[object.key] = entry;
  }
  const kept = Object.keys(results).length;
  const changed = !previous || read.size > 0 || kept !== Object.keys(previous.results).length;
  return { snapshot: { schema: SNAPSHOT_SCHEMA, results }, changed };
};

/** The plan's view of the results: by source key, in listing order (a later one wins, as before). */
export const resultsBySource = (snapshot: ResultSnapshot): Map<string, ResultSummary> => {
  const results = new Map<string, ResultSummary>();
  for (const entry of Object.values(snapshot.results))
    if (entry.result) results.set(entry.result.source.key, entry.result);
  return results;
};

/** A CA whose shallow state is in sync; the deep check compares the rest. */
export interface DeepCandidate {
  key: string;
  etag: string;
  certificateId: string;
  certificateArn: string;
  certificateMode: string;
  templateName: string;
  tags: Tags;
}

/** What the deep check reads per CA. */
export interface CaDetail {
  status: string;
  autoRegistrationStatus: string;
  certificateMode: string;
  templateName?: string;
  tags: Tags;
}

export type Finding =
  | { kind: 'register'; key: string; etag: string; reason: 'never-registered' | 'changed' | 'missing-in-iot' }
  | { kind: 'repair'; key: string; etag: string; certificateId: string; drift: string[] }
  | { kind: 'failed'; key: string; error: string }
  | { kind: 'retry'; key: string; etag: string; error: string }
  | { kind: 'pending'; key: string; reason: 'never-registered' | 'changed' }
  | { kind: 'orphan'; key: string; certificateId: string; status: string }
  | { kind: 'retired'; key: string; certificateId: string; status: string; present: boolean }
  | { kind: 'expiring'; key: string; certificateId: string; notAfter: string; daysLeft: number };

export interface ShallowPlan {
  findings: Finding[];
  inSync: DeepCandidate[];
}

export interface PlanInput {
  objects: ListedObject[];
  /** Receipts by source key, including those whose object is gone (orphan candidates). */
  results: Map<string, ResultSummary>;
  cas: Map<string, ListedCa>;
  /** certificateIds attached to each template, from ListCACertificates?templateName=. */
  templateMembers: Map<string, Set<string>>;
  /**
   * When each source key's result object was written (its listing's LastModified), and when each
   * CA's retired receipt was (`results/retired/<certificateId>.json`, by certificateId): both from
   * the listings, so telling a retired CA needs no read (ADR 0020).
   */
  resultWritten?: Map<string, Date>;
  retiredWritten?: Map<string, Date>;
  now: Date;
  expiryWarningDays: number;
  /**
   * Content uploaded less than this long ago is left to the flow its own upload event started
   * (which may be waiting out the quota in a burst): starting a second one would only double the
   * load. A lost event is still caught, by a later run.
   */
  graceMinutes: number;
}

/**
 * The shallow plan, linear in the number of objects and CAs: never registered or changed since
 * (register), INACTIVE or detached from its template (repair), failed on this very content
 * (transient: run again; otherwise reported, not retried until the object changes), orphans and
 * expiring CAs.
 */
export const planShallow = (input: PlanInput): ShallowPlan => {
  const findings: Finding[] = [];
  const inSync: DeepCandidate[] = [];
  const present = new Set(input.objects.map((object) => object.key));
  /**
   * Retired since its object's last result: retire-ca wrote the CA's retired receipt after that
   * result, and IoT does not show the CA ACTIVE (retire-ca left it INACTIVE, or deleted it). A
   * re-upload writes a newer result (register-ca), which ends this; an ACTIVE CA is live again
   * (a delete-after cancelled by a re-upload rewrites the retired receipt as `cancelled`, after
   * the re-upload's own receipt), so normal rules apply to it.
   */
  const retiredSince = (key: string, certificateId: string, ca: ListedCa | undefined): boolean => {
    if (ca?.status === 'ACTIVE') return false;
    const retired = input.retiredWritten?.get(certificateId);
    const written = input.resultWritten?.get(key);
    // A tie (S3 keeps whole seconds) reads as retired: the CA is not ACTIVE, and register-ca
    // activates before it writes its receipt, so something deactivated it since: retire-ca.
    return retired !== undefined && written !== undefined && retired.getTime() >= written.getTime();
  };
  for (const object of input.objects) {
    const result = input.results.get(object.key);
    if (!result || result.source.etag !== object.etag) {
      const reason = result ? 'changed' : 'never-registered';
      const young =
        object.lastModified !== undefined &&
        input.now.getTime() - object.lastModified.getTime() < input.graceMinutes * 60_000;
      findings.push(
        young
          ? { kind: 'pending', key: object.key, reason }
          : { kind: 'register', key: object.key, etag: object.etag, reason },
      );
      continue;
    }
    if (result.outcome === 'FAILED') {
      // Judged by the error's name, not a stored flag, so reports written before the flag existed count too.
      findings.push(
        isTransientFailure(result.error.name)
          ? { kind: 'retry', key: object.key, etag: object.etag, error: result.error.name }
          : { kind: 'failed', key: object.key, error: result.error.name },
      );
      continue;
    }
    const ca = input.cas.get(result.certificateId);
    if (retiredSince(object.key, result.certificateId, ca)) {
      findings.push({
        kind: 'retired',
        key: object.key,
        certificateId: result.certificateId,
        status: ca?.status ?? 'DELETED',
        present: true,
      });
      continue;
    }
    if (!ca) {
      findings.push({ kind: 'register', key: object.key, etag: object.etag, reason: 'missing-in-iot' });
      continue;
    }
    const notAfter = new Date(result.notAfter);
    if (expiresWithin(notAfter, input.expiryWarningDays, input.now)) {
      findings.push({
        kind: 'expiring',
        key: object.key,
        certificateId: ca.certificateId,
        notAfter: result.notAfter,
        daysLeft: daysLeft(notAfter, input.now),
      });
    }
    const drift: string[] = [];
    if (ca.status !== 'ACTIVE') drift.push(`status ${ca.status}`);
    if (!input.templateMembers.get(result.templateName)?.has(ca.certificateId))
      drift.push(`template not ${result.templateName}`);
    if (drift.length > 0) {
      findings.push({ kind: 'repair', key: object.key, etag: object.etag, certificateId: ca.certificateId, drift });
      continue;
    }
    inSync.push({
      key: object.key,
      etag: object.etag,
      certificateId: ca.certificateId,
      certificateArn: ca.certificateArn,
      certificateMode: result.certificateMode,
      templateName: result.templateName,
      tags: result.tags,
    });
  }
  // Orphans: CAs the pipeline registered (a receipt says so, or a failure report that replaced
  // one) whose object is gone.
  for (const [key, result] of input.results) {
    const registered = result.outcome === 'ACTIVE' ? result : result.previous;
    if (present.has(key) || !registered) continue;
    const ca = input.cas.get(registered.certificateId);
    if (!ca) continue;
    findings.push(
      retiredSince(key, ca.certificateId, ca)
        ? { kind: 'retired', key, certificateId: ca.certificateId, status: ca.status, present: false }
        : { kind: 'orphan', key, certificateId: ca.certificateId, status: ca.status },
    );
  }
  return { findings, inSync };
};

const sameTags = (a: Tags, b: Tags): boolean => {
  const keys = (tags: Tags) => Object.keys(tags).filter((key) => !key.startsWith('aws:'));
  return keys(a).length === keys(b).length && keys(a).every((key) => a[key] === b[key]);
};

/** What the listings cannot show: auto-registration, mode, tags (and template/status, re-read). */
export const deepDrift = (candidate: DeepCandidate, detail: CaDetail): string[] => {
  const drift: string[] = [];
  if (detail.status !== 'ACTIVE') drift.push(`status ${detail.status}`);
  if (detail.autoRegistrationStatus !== 'ENABLE') drift.push('auto-registration off');
  if (detail.certificateMode !== candidate.certificateMode)
    drift.push(`mode ${detail.certificateMode}, wanted ${candidate.certificateMode}`);
  if (detail.templateName !== candidate.templateName) drift.push(`template not ${candidate.templateName}`);
  if (!sameTags(detail.tags, candidate.tags)) drift.push('tags differ');
  return drift;
};

/**
 * The execution name of a repair: the same for every reconcile run that sees the same object
 * content needing the same desired state within one window, so overlapping runs start it once
 * (Step Functions refuses a second start with ExecutionAlreadyExists); a later window may try again.
 */
export const repairExecutionName = (key: string, etag: string, desired: string, windowStart: number): string =>
  `reconcile-${createHash('sha256').update(`${key}\n${etag}\n${desired}\n${windowStart}`).digest('hex').slice(0, 48)}`;

export type { ReconcileCounts } from './schemas.ts';

export const emptyCounts = (): ReconcileCounts => ({
  objects: 0,
  inSync: 0,
  registered: 0,
  repaired: 0,
  alreadyStarted: 0,
  pending: 0,
  retried: 0,
  failed: 0,
  orphaned: 0,
  retired: 0,
  deactivated: 0,
  expiring: 0,
  errors: 0,
  deepChecked: 0,
});

export const addCounts = (a: ReconcileCounts, b: Partial<ReconcileCounts>): ReconcileCounts =>
  Object.fromEntries(
    Object.entries(a).map(([key, value]) => [key, value + (b[key as keyof ReconcileCounts] ?? 0)]),
  ) as unknown as ReconcileCounts;
