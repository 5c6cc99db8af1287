/**
 * A bulk drop as an operator runs it: a folder of CAs (each beside its verification certificate)
 * dropped and followed by ONE `iot-ca --local drop <folder> --wait`, a separate process attached to
 * the running stack through its state directory, with every IoT operation held to AWS's 10 TPS.
 * The time is the command's, start to exit; the floor is what the quota alone imposes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { claimStateDir, type LocalStack } from '../local/stack.ts';
import { AWS_DEFAULT_TPS, type Operation } from '../local/iot/emulator.ts';
import { OPERATION_ERRORS } from '../local/iot/operations.ts';
import { makeCa, makeLeaf, P256 } from '../local/pki.ts';
import { busyShare, type Figure, round } from './figures.ts';

export interface BulkResult {
  count: number;
  tps: number;
  seconds: number;
  floorSeconds: number;
  ratio: number;
  /** Seconds from the command's start to its first and last upload (its plan reads IoT first). */
  firstUploadSeconds: number | null;
  lastUploadSeconds: number | null;
  exitCode: number | null;
  summary: { total?: number; active?: number; failed?: number };
  /** The command's error, when it ended on one instead of a summary. */
  error?: { name: string; message: string };
  admitted: Partial<Record<Operation, number>>;
  throttled: number;
  retries: number;
  mainThreadBusy: number;
  /** Operations left without a quota in this run (a diagnostic), outside the floor too. */
  unthrottled: Operation[];
}

export const bulkDropOn = async (
  stack: LocalStack,
  {
    root,
    count,
    log,
    unthrottled = [],
  }: { root: string; count: number; log: (line: string) => void; unthrottled?: Operation[] },
): Promise<BulkResult> => {
  const folder = mkdtempSync(join(tmpdir(), 'iot-ca-bench-drop-'));
  const tps = AWS_DEFAULT_TPS;
  const faults = stack.emulator.faults;
  try {
    // What the operator did beforehand: `iot-ca registration-code`, one verification certificate per CA.
    const { registrationCode } = stack.emulator.getRegistrationCode();
    const run = Date.now();
    log(`   making ${count} CAs and their verification certificates`);
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const ca = await makeCa({ key: P256, subject: `CN=bulk ${run} ${i}` });
        const name = `ca-${String(i).padStart(4, '0')}`;
        writeFileSync(join(folder, `${name}.pem`), ca.pem);
        writeFileSync(join(folder, `${name}.verification.pem`), (await makeLeaf(ca, `CN=${registrationCode}`)).pem);
      }),
    );
    // The bench's stack stands in for `iot-ca up`: the command attaches to it through IOT_CA_HOME.
    const holder = claimStateDir(stack.stateDir);
    if (holder && holder.pid !== process.pid) throw new Error(`${stack.stateDir} is held by pid ${holder.pid}`);
    await stack.advertise();
    const quotas = (Object.keys(OPERATION_ERRORS) as Operation[]).filter((op) => !unthrottled.includes(op));
    stack.emulator.faults = {
      tps: unthrottled.length === 0 ? tps : Object.fromEntries(quotas.map((op) => [op, tps])),
    };
    stack.emulator.resetQuotas();
    stack.emulator.calls.clear();
    stack.emulator.admitted.clear();
    const before = stack.engine.list().length;
    const t0 = performance.now();
    const uploads: number[] = [];
    let stdout = '';
    const { result: exitCode, busy } = await busyShare(
      () =>
        new Promise<number | null>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            [join(root, 'bin/iot-ca.mjs'), '--local', '--json', 'drop', folder, '--wait'],
            {
              cwd: folder,
              env: { ...process.env, IOT_CA_HOME: stack.stateDir, IOT_CA_LOG_LEVEL: 'SILENT' },
              stdio: ['ignore', 'pipe', 'pipe'],
            },
          );
          child.stdout.on('data', (chunk: Buffer) => {
            stdout += chunk.toString();
          });
          createInterface({ input: child.stderr }).on('line', (line) => {
            try {
              if ((JSON.parse(line) as { event?: string }).event === 'uploaded') uploads.push(performance.now() - t0);
            } catch {
              log(`   drop: ${line}`);
            }
          });
          child.once('error', reject);
          child.once('exit', (code) => resolve(code));
        }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const flows = stack.engine.list().slice(before);
    const admitted = Object.fromEntries(stack.emulator.admitted) as Partial<Record<Operation, number>>;
    const floorSeconds =
      Math.max(
        ...Object.entries(admitted)
          .filter(([op]) => !unthrottled.includes(op as Operation))
          .map(([, n]) => n ?? 0),
      ) / tps;
    let printed: { summary?: BulkResult['summary']; error?: BulkResult['error'] } = {};
    try {
      printed = JSON.parse(stdout) as typeof printed;
    } catch {
      log(`   drop printed no JSON: ${stdout.slice(0, 300)}`);
    }
    if (printed.error) log(`   drop ended on ${printed.error.name}: ${printed.error.message}`);
    return {
      count,
      tps,
      seconds,
      floorSeconds,
      ratio: seconds / floorSeconds,
      firstUploadSeconds: uploads.length > 0 ? (Math.min(...uploads) as number) / 1000 : null,
      lastUploadSeconds: uploads.length > 0 ? (Math.max(...uploads) as number) / 1000 : null,
      exitCode,
      summary: printed.summary ?? {},
      ...(printed.error ? { error: printed.error } : {}),
      admitted,
      throttled: [...stack.emulator.calls].reduce((sum, [operation, n]) => sum + n - (admitted[operation] ?? 0), 0),
      retries: flows.reduce(
        (sum, flow) => sum + flow.events.filter((event) => event.type === 'StateRetried').length,
        0,
      ),
      mainThreadBusy: busy,
      unthrottled,
    };
  } finally {
    stack.emulator.faults = faults;
    rmSync(folder, { recursive: true, force: true });
  }
};

const summaryOf = (result: BulkResult): string =>
  `${round(result.ratio)}× (${round(result.seconds, 1)} s vs floor ${round(result.floorSeconds, 1)} s; uploads ${round(result.firstUploadSeconds ?? 0, 1)}–${round(result.lastUploadSeconds ?? 0, 1)} s; ${result.summary.active ?? 0} ACTIVE, ${result.summary.failed ?? 0} failed, exit ${result.exitCode}; ${result.throttled} throttled calls; stack's main thread ${Math.round(result.mainThreadBusy * 100)}% busy)`;

/** The figure; `diagnostic` is the same drop run again with some operations unthrottled, when the first failed. */
export const bulkFigure = (result: BulkResult, diagnostic?: BulkResult): Figure => {
  const { count, summary } = result;
  const allActive = result.exitCode === 0 && summary.active === count;
  return {
    name: `Bulk drop: ${count} CAs, one \`iot-ca drop <folder> --wait\`, 10 TPS per IoT operation ÷ quota floor`,
    value: `${result.error ? `the command failed after ${round(result.seconds, 1)} s, nothing uploaded: ${result.error.name} (${result.error.message.slice(0, 120)})` : summaryOf(result)}${diagnostic ? `; run again with ${diagnostic.unthrottled.join(', ')} unthrottled: ${diagnostic.error ? `failed too, ${diagnostic.error.name}` : summaryOf(diagnostic)}` : ''}`,
    target: 'none set (bursts: ≤ 1.3×); all ACTIVE',
    met: allActive ? null : false,
    detail: {
      ...result,
      seconds: round(result.seconds, 2),
      ratio: round(result.ratio, 3),
      mainThreadBusy: round(result.mainThreadBusy),
      ...(diagnostic ? { diagnostic: { ...diagnostic, seconds: round(diagnostic.seconds, 2) } } : {}),
    },
  };
};
