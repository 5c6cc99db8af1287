/**
 * A burst of CAs dropped at once into the embedded stack while its IoT emulator enforces a quota on
 * every operation, followed to the end with the state machine's own backoff (no fixed test pause):
 * what `npm run test:load` asserts and `npm run bench` reports.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LocalStack } from '../local/stack.ts';
import type { Operation } from '../local/iot/emulator.ts';
import { makeCa, P256 } from '../local/pki.ts';
import { inspectCaFile } from '../functions/core/certificate.ts';

export interface BurstOptions {
  count: number;
  /** Requests per second per IoT operation (AWS's published quota is 10). */
  tps: number;
  /** Progress lines, about every 10 s. */
  log?: (line: string) => void;
}

export interface BurstResult {
  count: number;
  tps: number;
  seconds: number;
  /** The busiest operation's admitted calls ÷ its quota: no schedule can finish sooner. */
  floorSeconds: number;
  ratio: number;
  active: number;
  /** Executions that did not succeed. */
  failed: number;
  /** Dropped CAs not ACTIVE at the end. */
  lost: number;
  /** Objects that got more than one execution. */
  duplicates: number;
  /** Calls the quota refused (each one a retry somewhere). */
  throttled: number;
  admitted: Partial<Record<Operation, number>>;
  /** Task attempts that failed and were retried, over all executions. */
  retries: number;
}

const PUT_CONCURRENCY = 50;

/** s3rver sometimes resets a kept-alive connection under a long upload burst: try again. */
export const retried = async <T>(call: () => Promise<T>, attempts = 5): Promise<T> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
};

/**
 * The burst on a running stack (its other CAs and executions are left out of every count): the
 * emulator's quota is set to `tps` for the burst and restored after.
 */
export const burstOn = async (
  stack: LocalStack,
  s3: S3Client,
  { count, tps, log = () => undefined }: BurstOptions,
): Promise<BurstResult> => {
  const run = `${Date.now()}`;
  log(`making ${count} CAs`);
  const pkis = await Promise.all(
    Array.from({ length: count }, (_, i) => makeCa({ key: P256, subject: `CN=burst ${run} ${i}` })),
  );
  const keys = pkis.map((_, i) => `incoming/burst-${run}/${i}.pem`);
  const ids = new Set(pkis.map((pki) => inspectCaFile(pki.pem).certificateId));
  const faults = stack.emulator.faults;
  stack.emulator.faults = { tps };
  stack.emulator.resetQuotas();
  stack.emulator.calls.clear();
  stack.emulator.admitted.clear();
  const before = stack.engine.list().length;
  const flowsOfBurst = () => stack.engine.list().slice(before);
  const t0 = performance.now();
  const progress = setInterval(() => {
    const flows = flowsOfBurst();
    const ended = flows.filter((record) => record.status !== 'RUNNING').length;
    log(`  ${Math.round((performance.now() - t0) / 1000)} s: ${flows.length} started, ${ended} ended`);
  }, 10_000);
  try {
    for (let i = 0; i < count; i += PUT_CONCURRENCY) {
      const batch = pkis.slice(i, i + PUT_CONCURRENCY).map((pki, j) => {
        const upload = new PutObjectCommand({
          Bucket: stack.bucket,
          Key: keys[i + j],
          Body: pki.pem,
          Metadata: { 'certificate-mode': 'SNI_ONLY' },
        });
        return retried(() => s3.send(upload));
      });
      await Promise.all(batch);
    }
    while (flowsOfBurst().length < count) await new Promise((resolve) => setTimeout(resolve, 20));
    await stack.idle();
  } finally {
    clearInterval(progress);
    stack.emulator.faults = faults;
  }
  const seconds = (performance.now() - t0) / 1000;
  const flows = flowsOfBurst();
  const admitted = Object.fromEntries(stack.emulator.admitted) as Partial<Record<Operation, number>>;
  const active = stack.emulator.snapshot().filter((ca) => ids.has(ca.certificateId) && ca.status === 'ACTIVE').length;
  const perObject = new Map<string, number>();
  for (const flow of flows) {
    const key = (flow.input as { detail?: { object?: { key?: string } } }).detail?.object?.key ?? '';
    perObject.set(key, (perObject.get(key) ?? 0) + 1);
  }
  const floorSeconds = Math.max(...Object.values(admitted).map((n) => n ?? 0)) / tps;
  return {
    count,
    tps,
    seconds,
    floorSeconds,
    ratio: seconds / floorSeconds,
    active,
    failed: flows.filter((flow) => flow.status !== 'SUCCEEDED').length,
    lost: count - active,
    // Objects that got a second execution (the emulator refuses a second registration of a CA).
    duplicates: [...perObject.values()].reduce((sum, n) => sum + n - 1, 0),
    throttled: [...stack.emulator.calls].reduce((sum, [operation, n]) => sum + n - (admitted[operation] ?? 0), 0),
    admitted,
    retries: flows.reduce((sum, flow) => sum + flow.events.filter((event) => event.type === 'StateRetried').length, 0),
  };
};

/** The burst on a stack of its own, started and stopped around it. */
export const runBurst = async (options: BurstOptions): Promise<BurstResult> => {
  const stateDir = mkdtempSync(join(tmpdir(), 'iot-ca-burst-'));
  const stack = await LocalStack.start({ stateDir, logLevel: 'SILENT' });
  const s3 = new S3Client({});
  try {
    return await burstOn(stack, s3, options);
  } finally {
    s3.destroy();
    await stack.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
};
