/** The reconciler's reads and writes: S3 listings and receipts, IoT listings, flow starts. */
import { paginateListCACertificates, type IoTClient } from '@aws-sdk/client-iot';
import { GetObjectCommand, paginateListObjectsV2, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pMap from 'p-map';
import pThrottle from 'p-throttle';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { awsCall, awsErrorName, awsPages, SDK_MAX_ATTEMPTS } from './sdk-errors.ts';
import { createIotClient, describeCa, listTags } from './iot.ts';
import { readIncomingPrefix, readReconcileConfig, readResultsPrefix, type ReconcileConfig } from '../lambda/config.ts';
import {
  deepDrift,
  nextSnapshot,
  parseSnapshot,
  repairExecutionName,
  resultsBySource,
  resultsToRead,
  summarizeResult,
  type CaDetail,
  type DeepCandidate,
  type Finding,
  type ListedCa,
  type ListedObject,
  type ReconcileCounts,
  type ResultSnapshot,
  type ResultSummary,
  type SnapshotEntry,
} from '../core/reconcile.ts';
import { createS3Client, isMissingObject } from './s3.ts';
import { retireExecutionName } from '../core/retire.ts';
import { bareEtag, isCaKey, noticesPrefixFor, reconcilePrefixFor } from '../core/source.ts';

/**
 * The objects under a prefix, in key order: from after `startAfter`, and only those before
 * `until` (listing stops at the first page that reaches it).
 */
const listKeys = async (
  s3: S3Client,
  bucket: string,
  prefix: string,
  { startAfter, until }: { startAfter?: string; until?: string } = {},
): Promise<ListedObject[]> => {
  const objects: ListedObject[] = [];
  const pages = paginateListObjectsV2(
    { client: s3 },
    { Bucket: bucket, Prefix: prefix, ...(startAfter ? { StartAfter: startAfter } : {}) },
  );
  for await (const page of awsPages('ListObjectsV2', pages)) {
    let reached = false;
    for (const object of page.Contents ?? []) {
      if (!object.Key) continue;
      if (until !== undefined && object.Key >= until) {
        reached = true;
        break;
      }
      objects.push({
        key: object.Key,
        etag: bareEtag(object.ETag) ?? '',
        ...(object.LastModified ? { lastModified: object.LastModified } : {}),
      });
    }
    if (reached) break;
  }
  return objects;
};

/** The CA objects (not their verification siblings) under the incoming prefix. */
export const listCaObjects = async (s3: S3Client, bucket: string, incomingPrefix: string): Promise<ListedObject[]> =>
  (await listKeys(s3, bucket, incomingPrefix)).filter((object) => isCaKey(object.key));

/** The key just past every key under `folder` ('results/reconcile/' → 'results/reconcile0': '0' follows '/'). */
const pastFolder = (folder: string): string =>
  `${folder.slice(0, -1)}${String.fromCharCode(folder.charCodeAt(folder.length - 1) + 1)}`;

/**
 * The folders under the results prefix that hold the pipeline's own objects, not results, in key
 * order: notification markers (one per cause, ever) with the pending announcements beneath them
 * (notices/pending/, docs/adr/0030), reconciliation's reports and snapshot (one set per run). Both
 * grow without bound, so they are listed around, not through: nothing under them is read as a receipt.
 */
const ownFolders = (resultsPrefix: string): string[] =>
  [noticesPrefixFor(resultsPrefix), reconcilePrefixFor(resultsPrefix)].sort();

/** Where retire-ca writes each CA's retired receipt (and, deeper, its claims). */
const retiredFolderFor = (resultsPrefix: string): string => `${resultsPrefix}retired/`;

/** The result objects and the retired receipts, from the same listings. */
export interface ResultListing {
  /** Every result object RecordResult wrote (`results/<source key>.json`). */
  results: ListedObject[];
  /**
   * What retire-ca wrote for each CA, never read: its retired receipt
   * (`results/retired/<certificateId>.json`) and its claims (`results/retired/claims/<certificateId>/…`).
   */
  retired: ListedObject[];
}

/**
 * Every result object RecordResult wrote (`.json` under the results prefix), and apart from them
 * the retired receipts retire-ca wrote. The pipeline's own growing folders (notices/, reconcile/)
 * are listed around, not through: the keys before the first, between them, and after the last
 * (StartAfter), side by side, at most one request each more than the results need, however many
 * runs and notices came before. (A delimiter would do it too, but the local S3 drops a common
 * prefix holding only deeper folders.) retired/ holds one receipt per retired CA and a claim per
 * cause, as bounded as the receipts: it is listed with them and split off, so neither is ever read
 * as a source's result (ADR 0020, docs/adr/0025).
 */
export const listResultObjects = async (
  s3: S3Client,
  bucket: string,
  resultsPrefix: string,
): Promise<ResultListing> => {
  const folders = ownFolders(resultsPrefix);
  const ranges = [undefined, ...folders].map((skipped, i) => ({
    ...(skipped ? { startAfter: pastFolder(skipped) } : {}),
    ...(folders[i] ? { until: folders[i] } : {}),
  }));
  const listed = (await Promise.all(ranges.map((range) => listKeys(s3, bucket, resultsPrefix, range)))).flat();
  const retiredFolder = retiredFolderFor(resultsPrefix);
  const results: ListedObject[] = [];
  const retired: ListedObject[] = [];
  for (const object of listed) {
    if (!object.key.endsWith('.json')) continue;
    if (!object.key.startsWith(retiredFolder)) results.push(object);
    else retired.push(object);
  }
  return { results, retired };
};

/** Where the plan keeps what it learnt from each receipt (beside its reports, which it may write). */
export const snapshotKeyFor = (resultsPrefix: string): string =>
  `${reconcilePrefixFor(resultsPrefix)}snapshot/results.json`;

const getText = async (
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<{ text: string; etag?: string } | undefined> => {
  try {
    const response = await awsCall('GetObject', () => s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
    const etag = bareEtag(response.ETag);
    return { text: (await response.Body?.transformToString()) ?? '', ...(etag ? { etag } : {}) };
  } catch (error) {
    if (isMissingObject(error)) return undefined;
    throw error;
  }
};

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
};

/** The snapshot the last run wrote: undefined when there is none or it is not one (then rebuilt). */
export const loadSnapshot = async (
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<{ snapshot?: ResultSnapshot; state: 'found' | 'missing' | 'unreadable' }> => {
  const object = await getText(s3, bucket, key);
  if (!object) return { state: 'missing' };
  const snapshot = parseSnapshot(parseJson(object.text));
  return snapshot ? { snapshot, state: 'found' } : { state: 'unreadable' };
};

/**
 * Reads one result object: its summary under the ETag of the content read (which may be newer
 * than the listing's, and is then what the next listing shows). A result that is not JSON or not a
 * result (written by hand?) is kept as null, so it is not read again until it changes; one deleted
 * since the listing is undefined.
 */
export const readResult = async (
  s3: S3Client,
  bucket: string,
  listed: ListedObject,
): Promise<SnapshotEntry | undefined> => {
  const object = await getText(s3, bucket, listed.key);
  if (!object) return undefined;
  return { etag: object.etag ?? listed.etag, result: summarizeResult(parseJson(object.text)) ?? null };
};

/**
 * When retire-ca last wrote for each CA, by certificateId: its retired receipt, or a claim. A claim
 * is written before Deactivate and kept when a step from Deactivate on fails (docs/adr/0031), so a
 * CA deactivated by a retirement that failed before its receipt still reads as retired.
 */
export const lastRetireWrites = (retired: ListedObject[], resultsPrefix: string): Map<string, Date> => {
  const retiredFolder = retiredFolderFor(resultsPrefix);
  const written = new Map<string, Date>();
  for (const object of retired) {
    const [first, second] = object.key.slice(retiredFolder.length).split('/');
    const certificateId = first === 'claims' ? second : first?.slice(0, -'.json'.length);
    const earlier = certificateId ? written.get(certificateId) : undefined;
    if (certificateId && object.lastModified && !(earlier && earlier >= object.lastModified))
      written.set(certificateId, object.lastModified);
  }
  return written;
};

export interface ResultsRead {
  /** What each object's latest result says, by source key (orphan candidates included). */
  results: Map<string, ResultSummary>;
  /** When that result object was written (the listing's LastModified), by source key. */
  resultWritten: Map<string, Date>;
  /** When retire-ca last wrote a CA's retired receipt or a claim, by certificateId (listed, not read). */
  retiredWritten: Map<string, Date>;
  /** Result objects listed, and those read (new, replaced, or all of them when rebuilding). */
  listed: number;
  read: number;
  /** How the snapshot was found; `written` when this run replaced it. */
  snapshot: 'found' | 'missing' | 'unreadable';
  written: boolean;
}

/**
 * Every receipt and report RecordResult wrote, by source key, reading only those the snapshot does
 * not know at their listed ETag: a run where nothing changed makes listings and one GET. The
 * snapshot is written back only when it changed.
 */
export const readResults = async (s3: S3Client, bucket: string, resultsPrefix: string): Promise<ResultsRead> => {
  const snapshotKey = snapshotKeyFor(resultsPrefix);
  const [{ results: listed, retired }, loaded] = await Promise.all([
    listResultObjects(s3, bucket, resultsPrefix),
    loadSnapshot(s3, bucket, snapshotKey),
  ]);
  const toRead = resultsToRead(listed, loaded.snapshot);
  const read = new Map<string, SnapshotEntry>();
  await pMap(
    toRead,
    async (object) => {
      const entry = await readResult(s3, bucket, object);
      if (entry) read.set(object.key, entry);
    },
    { concurrency: 16 },
  );
  const { snapshot, changed } = nextSnapshot(listed, loaded.snapshot, read);
  if (changed) {
    // Compact JSON: ~400 bytes a CA, so 10,000 CAs make a 4 MB object, read once a run.
    await awsCall('PutObject', () =>
      s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: snapshotKey,
          Body: JSON.stringify(snapshot),
          ContentType: 'application/json',
        }),
      ),
    );
  }
  // In listing order, as resultsBySource: a later result for the same source wins.
  const resultWritten = new Map<string, Date>();
  for (const object of listed) {
    const source = snapshot.results[object.key]?.result?.source.key;
    if (source && object.lastModified) resultWritten.set(source, object.lastModified);
  }
  const retiredWritten = lastRetireWrites(retired, resultsPrefix);
  return {
    results: resultsBySource(snapshot),
    resultWritten,
    retiredWritten,
    listed: listed.length,
    read: toRead.length,
    snapshot: loaded.state,
    written: changed,
  };
};

/** All CAs, 250 a page; with `templateName`, only those attached to it. */
export const listCas = async (iot: IoTClient, templateName?: string): Promise<Map<string, ListedCa>> => {
  const cas = new Map<string, ListedCa>();
  const pages = paginateListCACertificates({ client: iot, pageSize: 250 }, templateName ? { templateName } : {});
  for await (const page of awsPages('ListCACertificates', pages)) {
    for (const ca of page.certificates ?? []) {
      if (ca.certificateId)
        cas.set(ca.certificateId, {
          certificateId: ca.certificateId,
          certificateArn: ca.certificateArn ?? '',
          status: ca.status ?? 'INACTIVE',
        });
    }
  }
  return cas;
};

export const readCaDetail = async (
  iot: IoTClient,
  certificateId: string,
  certificateArn: string,
): Promise<CaDetail | undefined> => {
  const described = await describeCa(iot, certificateId);
  if (!described) return undefined;
  const { status, autoRegistrationStatus, certificateMode, templateName } = described;
  return {
    status,
    autoRegistrationStatus,
    certificateMode,
    ...(templateName ? { templateName } : {}),
    tags: await listTags(iot, certificateArn),
  };
};

/** Starts a register-ca flow; a name already used means another run started this repair. */
export const startFlow = async (
  sfn: SFNClient,
  stateMachineArn: string,
  input: Record<string, unknown>,
  name: string,
): Promise<'started' | 'already'> => {
  try {
    await awsCall('StartExecution', () =>
      sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) })),
    );
    return 'started';
  } catch (error) {
    if (awsErrorName(error) === 'ExecutionAlreadyExists') return 'already';
    throw error;
  }
};

/** Counts the IoT calls a client makes, by operation: the report states the cost of each run. */
export const countCalls = (client: IoTClient): Map<string, number> => {
  const counts = new Map<string, number>();
  // Clients live across invocations: replace the previous invocation's counter.
  client.middlewareStack.remove('iotCallCounter');
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = String(context.commandName ?? 'unknown').replace(/Command$/, '');
      counts.set(operation, (counts.get(operation) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'iotCallCounter' },
  );
  return counts;
};

export interface ReconcileDeps {
  s3: S3Client;
  iot: IoTClient;
  sfn: SFNClient;
  config: ReconcileConfig;
  incomingPrefix: string;
  resultsPrefix: string;
  now?: () => Date;
}

/** What the reconcile functions build once per container, from the deployment's environment. */
export const createReconcileDeps = (): ReconcileDeps => ({
  s3: createS3Client(),
  iot: createIotClient(),
  sfn: new SFNClient({ maxAttempts: SDK_MAX_ATTEMPTS }),
  config: readReconcileConfig(),
  incomingPrefix: readIncomingPrefix(),
  resultsPrefix: readResultsPrefix(),
});

export const windowStart = (now: Date, minutes: number): number => Math.floor(now.getTime() / (minutes * 60_000));

/**
 * Starts the register-ca flow that repairs or registers one object; named once per window. The
 * input says why (`repair`: the reason and the drift found, empty when there is none), so that the
 * run announces `CA Drift Repaired` with the drift rather than `CA Registered` (docs/adr/0027).
 */
export const startRepair = async (
  deps: ReconcileDeps,
  bucket: string,
  key: string,
  etag: string,
  desired: string,
  drift: string[] = [],
): Promise<'started' | 'already'> => {
  const input = { bucket, key, repair: { reason: drift.length > 0 ? 'drift' : desired, drift } };
  return startFlow(
    deps.sfn,
    deps.config.registerCaStateMachineArn,
    input,
    repairExecutionName(key, etag, desired, windowStart(deps.now?.() ?? new Date(), deps.config.windowMinutes)),
  );
};

/**
 * Hands an orphan to retire-ca (docs/adr/0025), the one path for "this CA should go": named once
 * per CA and window, so overlapping runs start it once; the run's id is the claim's cause.
 */
export const startRetire = async (
  deps: ReconcileDeps,
  certificateId: string,
  runId: string,
): Promise<'started' | 'already'> =>
  startFlow(
    deps.sfn,
    deps.config.retireCaStateMachineArn,
    { certificateId, reason: 'orphan', requestId: runId },
    retireExecutionName(certificateId, windowStart(deps.now?.() ?? new Date(), deps.config.windowMinutes)),
  );

/** A finding of the shallow plan and what was done about it. */
export type FindingOutcome = Finding & { outcome?: string };

/**
 * What one finding of the shallow plan does: start a register-ca flow (never registered,
 * drifted, or failed transiently), retire an ACTIVE orphan through retire-ca under orphanPolicy
 * `retire` (an INACTIVE one is already out of service: reported), or only count it.
 * `count` is told each count as it happens, so a failed action still leaves what it had counted.
 */
export const actOn = async (
  deps: ReconcileDeps,
  bucket: string,
  finding: Finding,
  count: (counts: Partial<ReconcileCounts>) => void,
  runId = 'reconcile',
): Promise<FindingOutcome> => {
  switch (finding.kind) {
    case 'register':
    case 'repair': {
      const started = await startRepair(
        deps,
        bucket,
        finding.key,
        finding.etag,
        finding.kind === 'repair' ? finding.drift.join(';') : finding.reason,
        finding.kind === 'repair' ? finding.drift : [],
      );
      count(
        started === 'already'
          ? { alreadyStarted: 1 }
          : finding.kind === 'register'
            ? { registered: 1 }
            : { repaired: 1 },
      );
      return { ...finding, outcome: started };
    }
    case 'retry': {
      // Once per window, like every start: overlapping runs start it once, a later window again.
      const started = await startRepair(deps, bucket, finding.key, finding.etag, 'transient-failure');
      count(started === 'already' ? { alreadyStarted: 1 } : { retried: 1 });
      return { ...finding, outcome: started };
    }
    case 'orphan': {
      count({ orphaned: 1 });
      if (deps.config.orphanPolicy !== 'retire' || finding.status !== 'ACTIVE')
        return { ...finding, outcome: 'reported' };
      const started = await startRetire(deps, finding.certificateId, runId);
      // `deactivated` counts the orphans handed to retire-ca (which deactivates them) by this run.
      count(started === 'already' ? { alreadyStarted: 1 } : { deactivated: 1 });
      return { ...finding, outcome: started === 'already' ? 'retire-already-started' : 'retire-started' };
    }
    case 'retired':
      // Retired since its last result (retire-ca's receipt is newer): left as retire-ca left it.
      count({ retired: 1 });
      return finding;
    case 'pending':
      count({ pending: 1 });
      return finding;
    case 'failed':
      count({ failed: 1 });
      return finding;
    case 'expiring':
      count({ expiring: 1 });
      return finding;
  }
};

/** A CA the deep check found drifted, and the flow started to repair it. */
export interface DeepRepair {
  key: string;
  drift: string[];
  outcome: string;
}

/**
 * The deep check of one CA: DescribeCACertificate and ListTagsForResource (one slot per CA, each
 * call held under DEEP_CHECK_TPS so the account's IoT quota keeps room for registrations), then a
 * repair flow if anything drifted. One checker per chunk: the rate is shared by its CAs.
 */
export const deepChecker = (deps: ReconcileDeps, bucket: string) => {
  const readDetail = pThrottle({ limit: 1, interval: 1000 / deps.config.deepCheckTps })((candidate: DeepCandidate) =>
    readCaDetail(deps.iot, candidate.certificateId, candidate.certificateArn),
  );
  return async (
    candidate: DeepCandidate,
    count: (counts: Partial<ReconcileCounts>) => void,
  ): Promise<DeepRepair | undefined> => {
    const detail = await readDetail(candidate);
    const drift = detail ? deepDrift(candidate, detail) : ['missing in IoT'];
    count({ deepChecked: 1 });
    if (drift.length === 0) {
      count({ inSync: 1 });
      return undefined;
    }
    const outcome = await startRepair(deps, bucket, candidate.key, candidate.etag, drift.join(';'), drift);
    count(outcome === 'already' ? { alreadyStarted: 1 } : { repaired: 1 });
    return { key: candidate.key, drift, outcome };
  };
};
