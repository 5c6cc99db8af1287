/** The reconciler's reads and writes: S3 listings and receipts, IoT listings, flow starts. */
import { DescribeCACertificateCommand, paginateListCACertificates, type IoTClient } from '@aws-sdk/client-iot';
import { paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import pMap from 'p-map';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { awsCall, awsErrorName, awsPages, SDK_MAX_ATTEMPTS } from './aws-errors.ts';
import { createIotClient, listTags } from './iot.ts';
import { readIncomingPrefix, readReconcileConfig, readResultsPrefix, type ReconcileConfig } from './config.ts';
import { repairExecutionName, type CaDetail, type ListedCa, type ListedObject, type ResultDocument } from './reconcile.ts';
import { createS3Client, getJson } from './s3.ts';
import { bareEtag, isCaKey, reconcilePrefixFor } from './source.ts';

const listKeys = async (s3: S3Client, bucket: string, prefix: string): Promise<ListedObject[]> => {
  const objects: ListedObject[] = [];
  for await (const page of awsPages('ListObjectsV2', paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix }))) {
    for (const object of page.Contents ?? []) {
      if (object.Key) objects.push({ key: object.Key, etag: bareEtag(object.ETag) ?? '', ...(object.LastModified ? { lastModified: object.LastModified } : {}) });
    }
  }
  return objects;
};

/** The CA objects (not their verification siblings) under the incoming prefix. */
export const listCaObjects = async (s3: S3Client, bucket: string, incomingPrefix: string): Promise<ListedObject[]> =>
  (await listKeys(s3, bucket, incomingPrefix)).filter((object) => isCaKey(object.key));

/** Every receipt and report RecordResult wrote, by source key (reconcile reports excluded). */
export const readResults = async (s3: S3Client, bucket: string, resultsPrefix: string): Promise<Map<string, ResultDocument>> => {
  const keys = (await listKeys(s3, bucket, resultsPrefix)).filter(
    (object) => object.key.endsWith('.json') && !object.key.startsWith(reconcilePrefixFor(resultsPrefix)),
  );
  // A result that is not JSON (written by hand?) is no receipt: skipped, not fatal.
  const documents = await pMap(keys, ({ key }) =>
    getJson<ResultDocument>(s3, bucket, key).catch((error: unknown) => (error instanceof SyntaxError ? undefined : Promise.reject(error))),
    { concurrency: 16 },
  );
  const results = new Map<string, ResultDocument>();
  for (const document of documents) if (document?.source?.key) results.set(document.source.key, document);
  return results;
};

/** All CAs, 250 a page; with `templateName`, only those attached to it. */
export const listCas = async (iot: IoTClient, templateName?: string): Promise<Map<string, ListedCa>> => {
  const cas = new Map<string, ListedCa>();
  const pages = paginateListCACertificates({ client: iot, pageSize: 250 }, templateName ? { templateName } : {});
  for await (const page of awsPages('ListCACertificates', pages)) {
    for (const ca of page.certificates ?? []) {
      if (ca.certificateId) cas.set(ca.certificateId, { certificateId: ca.certificateId, certificateArn: ca.certificateArn ?? '', status: ca.status ?? 'INACTIVE' });
    }
  }
  return cas;
};

export const readCaDetail = async (iot: IoTClient, certificateId: string, certificateArn: string): Promise<CaDetail | undefined> => {
  let described;
  try {
    described = await awsCall('DescribeCACertificate', () => iot.send(new DescribeCACertificateCommand({ certificateId })));
  } catch (error) {
    if (awsErrorName(error) === 'ResourceNotFoundException') return undefined;
    throw error;
  }
  const d = described.certificateDescription ?? {};
  return {
    status: d.status ?? 'INACTIVE',
    autoRegistrationStatus: d.autoRegistrationStatus ?? 'DISABLE',
    certificateMode: d.certificateMode ?? 'DEFAULT',
    ...(described.registrationConfig?.templateName ? { templateName: described.registrationConfig.templateName } : {}),
    tags: await listTags(iot, certificateArn),
  };
};

/** Starts a register-ca flow; a name already used means another run started this repair. */
export const startFlow = async (sfn: SFNClient, stateMachineArn: string, input: { bucket: string; key: string }, name: string): Promise<'started' | 'already'> => {
  try {
    await awsCall('StartExecution', () => sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) })));
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

/** Starts the register-ca flow that repairs or registers one object; named once per window. */
export const startRepair = async (deps: ReconcileDeps, bucket: string, key: string, etag: string, desired: string): Promise<'started' | 'already'> =>
  startFlow(deps.sfn, deps.config.registerCaStateMachineArn, { bucket, key }, repairExecutionName(key, etag, desired, windowStart(deps.now?.() ?? new Date(), deps.config.windowMinutes)));

