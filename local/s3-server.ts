/**
 * The embedded stack's S3: s3rver, patched where it is less faithful to S3 than the pipeline needs
 * (s3rver-compat.ts, events/s3-delete-objects.ts), behind IAM, its object events sent to the bus.
 */
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { App } from './app.ts';
import { type LocalIam, s3Authorizer } from './iam/enforce.ts';
import type { LocalBus } from './events/bus.ts';
import { type S3Record, s3ToEventBridge } from './events/s3.ts';
import './events/s3-delete-objects.ts';
import { withoutRequestLog } from './s3rver-compat.ts';

const S3rver = createRequire(import.meta.url)('s3rver') as new (
  options: Record<string, unknown>,
) => {
  run(): Promise<{ port: number }>;
  /** Koa's middleware list: what runs before s3rver's own goes first. */
  middleware: unknown[];
  close(): Promise<void>;
  on(event: 'event', listener: (event: { Records: S3Record[] }) => void): void;
  httpServer?: { closeAllConnections(): void };
};

/** The account s3rver authenticates every key against (SigV4 signatures are not checked). */
const S3RVER_ACCOUNT = (
  createRequire(import.meta.url)('s3rver/lib/models/account') as {
    DUMMY_ACCOUNT: { createKeyPair(accessKeyId: string, secretAccessKey: string): void };
  }
).DUMMY_ACCOUNT;

export type S3Server = InstanceType<typeof S3rver>;

/** Starts s3rver on `port` (0: any) with the one `bucket`, its objects under `stateDir`/s3. */
export const startS3Server = async (
  app: App,
  iam: LocalIam,
  stateDir: string,
  bucket: string,
  port: number,
): Promise<{ s3: S3Server; port: number }> => {
  const s3 = withoutRequestLog(
    new S3rver({
      address: '127.0.0.1',
      port,
      silent: true,
      directory: join(stateDir, 's3'),
      configureBuckets: [{ name: bucket }],
      vhostBuckets: false,
    }),
  );
  // Each function signs with its own key; IAM is evaluated before s3rver authenticates and routes.
  for (const fn of Object.keys(app.functions)) {
    const { accessKeyId, secretAccessKey } = iam.identityOf(fn);
    S3RVER_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
  }
  // So does each state machine's role, for its AWS SDK integrations (Activate, RecordResult).
  for (const machineId of Object.keys(app.stateMachines)) {
    const { accessKeyId, secretAccessKey } = iam.stateMachineIdentity(machineId);
    S3RVER_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
  }
  s3.middleware.unshift(s3Authorizer(iam.guard));
  const { port: s3Port } = await s3.run();
  return { s3, port: s3Port };
};

/**
 * The bucket sends its object events to EventBridge; the rules serverless.yml declares
 * (CaUploadedRule, CaDeletedRule) pick theirs, as EventBridge matches them.
 */
export const sendObjectEvents = (s3: S3Server, bus: LocalBus, enabled: () => boolean): void => {
  s3.on('event', (notification) => {
    for (const record of notification.Records) {
      const event = enabled() ? s3ToEventBridge(record) : undefined;
      if (event) bus.put(event);
    }
  });
};
