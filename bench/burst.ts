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
  /** Objects that got more than one execution, plus CAs registered more than once. */
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

export const runBurst = async ({ count, tps, log = () => undefined }: BurstOptions): Promise<BurstResult> => {
  const stateDir = mkdtempSync(join(tmpdir(), 'iot-ca-burst-'));
  const stack = await LocalStack.start({ stateDir, logLevel: 'SILENT', faults: { tps } });
  const s3 = new S3Client({});
  try {
    log(`making ${count} CAs`);
    const pkis = await Promise.all(
      Array.from({ length: count }, (_, i) => makeCa({ key: P256, subject: `CN=burst ${i}` })),
    );
    const keys = pkis.map((_, i) => `incoming/burst/${i}.pem`);
    stack.emulator.resetQuotas();
    const t0 = performance.now();
    const progress = setInterval(() => {
      const done = stack.engine.list().filter((record) => record.status !== 'RUNNING').length;
      log(
        `  ${Math.round((performance.now() - t0) / 1000)} s: ${stack.engine.list().length} started, ${done} ended, ${stack.emulator.admitted.get('UpdateCACertificate') ?? 0} activated`,
      );
    }, 10_000);
    try {
      for (let i = 0; i < count; i += PUT_CONCURRENCY) {
        await Promise.all(
          pkis.slice(i, i + PUT_CONCURRENCY).map((pki, j) =>
            retried(() =>
              s3.send(
                new PutObjectCommand({
                  Bucket: stack.bucket,
                  Key: keys[i + j],
                  Body: pki.pem,
                  Metadata: { 'certificate-mode': 'SNI_ONLY' },
                }),
              ),
            ),
          ),
        );
      }
      while (stack.engine.list().length < count) await new Promise((resolve) => setTimeout(resolve, 20));
      await stack.idle();
    } finally {
      clearInterval(progress);
    }
    const seconds = (performance.now() - t0) / 1000;
    const flows = stack.engine.list();
    const admitted = Object.fromEntries(stack.emulator.admitted) as Partial<Record<Operation, number>>;
    const cas = stack.emulator.snapshot();
    const active = cas.filter((ca) => ca.status === 'ACTIVE').length;
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
      duplicates:
        [...perObject.values()].reduce((sum, n) => sum + n - 1, 0) +
        (cas.length - new Set(cas.map((ca) => ca.certificateId)).size) +
        Math.max(0, cas.length - count),
      throttled: [...stack.emulator.calls].reduce((sum, [operation, n]) => sum + n - (admitted[operation] ?? 0), 0),
      admitted,
      retries: flows.reduce(
        (sum, flow) => sum + flow.events.filter((event) => event.type === 'StateRetried').length,
        0,
      ),
    };
  } finally {
    s3.destroy();
    await stack.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
};
