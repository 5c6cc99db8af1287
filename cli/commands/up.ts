/** `iot-ca up`: the local stack in the foreground, logging each execution as it runs. */
import type { ExecutionEvent, ExecutionRecord } from '../../local/engine.ts';
import { AWS_DEFAULT_TPS, type FaultSettings } from '../../local/iot/emulator.ts';
import { claimStateDir, defaultStateDir, LocalStack, releaseStateDir, type StackHolder } from '../../local/stack.ts';
import { parseStartInput } from '../../functions/core/source.ts';
import { CliError, type Output } from '../output.ts';
import { type EventEnvelope, readyText, upEventLine, upLog } from '../render.ts';
import { EVENT_SOURCE } from '../../functions/core/events.ts';

/** s3rver accepts only these; not a secret, and what `aws s3 …` needs against the local stack. */
const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface UpOptions {
  /** Commander's --no-schedules: false turns the reconcile schedules off. */
  schedules?: boolean;
  /** Commander's --no-iam: false lets every function make every call. */
  iam?: boolean;
  iotQuota?: string | boolean;
  throttleRate?: string;
  faultRate?: string;
  latencyMs?: string;
  retryIntervalMs?: string;
}

const fraction = (value: string | undefined, flag: string): number | undefined => {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!(number >= 0 && number <= 1)) throw new Error(`${flag} must be between 0 and 1`);
  return number;
};

export const faultsFrom = (options: UpOptions): FaultSettings => {
  const faults: FaultSettings = {};
  if (options.iotQuota !== undefined && options.iotQuota !== false)
    faults.tps = options.iotQuota === true ? AWS_DEFAULT_TPS : Number(options.iotQuota);
  const throttleRate = fraction(options.throttleRate, '--throttle-rate');
  const faultRate = fraction(options.faultRate, '--fault-rate');
  if (throttleRate !== undefined) faults.throttleRate = throttleRate;
  if (faultRate !== undefined) faults.faultRate = faultRate;
  if (options.latencyMs !== undefined) faults.latencyMs = Number(options.latencyMs);
  return faults;
};

const keyOf = (input: unknown): string => {
  try {
    return parseStartInput(input).key;
  } catch {
    return '(invalid input)';
  }
};

/** `arn:aws:states:<region>:<account>:execution:<machine>:<name>` → the machine's name. */
const machineOf = (executionArn: string): string => executionArn.split(':').at(-2) ?? '';

/** An event of the pipeline's own (`source: iot-ca-pipeline`) as an envelope, else undefined. */
const pipelineEnvelope = (event: unknown): EventEnvelope | undefined => {
  const envelope = event as Partial<EventEnvelope> | undefined;
  if (envelope?.source !== EVENT_SOURCE || typeof envelope['detail-type'] !== 'string') return undefined;
  return {
    ...envelope,
    id: envelope.id ?? '',
    time: envelope.time ?? new Date().toISOString(),
    detail: envelope.detail ?? {},
  } as EventEnvelope;
};

const inUse = (stateDir: string, holder: StackHolder): CliError =>
  new CliError(
    'StackAlreadyRunningError',
    holder.info
      ? `iot-ca up (pid ${holder.pid}) already runs on ${stateDir}: s3 ${holder.info.endpoints.s3}, iot ${holder.info.endpoints.iot}, sfn ${holder.info.endpoints.sfn}. Use it (iot-ca --local …) or stop it first (iot-ca down).`
      : `iot-ca up (pid ${holder.pid}) is starting on ${stateDir}. Use it (iot-ca --local …) or stop it first (iot-ca down).`,
  );

/**
 * Logs each execution of both state machines, one line per state, each prefixed with its
 * execution's short id so that concurrent executions can be told apart. A state is ✗ when it
 * failed and a Catch moved on (decided when it exits), ↻ on each retry, ✓ otherwise.
 */
const executionLogger = (out: Output, registerCaMachine: () => string) => {
  const entered = new Map<string, number>();
  const failed = new Map<string, string>();
  return (record: ExecutionRecord, event: ExecutionEvent): void => {
    const execution = record.name;
    const id = execution.slice(0, 8);
    const isRegisterCa = machineOf(record.executionArn) === registerCaMachine();
    const state = event.state?.name;
    const at = `${execution}/${state}`;
    switch (event.type) {
      case 'ExecutionStarted': {
        const what = isRegisterCa
          ? keyOf(record.input)
          : `${machineOf(record.executionArn)} ${JSON.stringify(record.input)}`;
        out.event(
          {
            event: 'started',
            execution,
            machine: machineOf(record.executionArn),
            ...(isRegisterCa ? { key: what } : { input: record.input }),
          },
          upLog.started(id, what),
        );
        break;
      }
      case 'StateEntered':
        entered.set(at, event.timestamp);
        failed.delete(at);
        break;
      case 'StateFailed':
        failed.set(at, event.Error ?? 'Error');
        break;
      case 'StateRetried':
        out.event(
          { event: 'retry', execution, state, error: failed.get(at) ?? null },
          upLog.retried(id, state, failed.get(at)),
        );
        failed.delete(at);
        break;
      case 'StateExited': {
        const ms = event.timestamp - (entered.get(at) ?? event.timestamp);
        const error = failed.get(at);
        out.event(
          { event: 'step', execution, state, ms, outcome: error ? 'failed' : 'ok', ...(error ? { error } : {}) },
          upLog.step(id, { name: String(state), ms, outcome: error ? 'failed' : 'ok', ...(error ? { error } : {}) }),
        );
        entered.delete(at);
        failed.delete(at);
        break;
      }
      case 'ExecutionSucceeded':
        out.event(
          { event: 'succeeded', execution },
          upLog.succeeded(id, isRegisterCa ? `ACTIVE  ${keyOf(record.input)}` : 'SUCCEEDED'),
        );
        break;
      case 'ExecutionFailed':
        out.event(
          { event: 'failed', execution, error: event.Error },
          upLog.failed(id, event.Error, isRegisterCa ? keyOf(record.input) : undefined),
        );
        break;
      default:
    }
  };
};

/**
 * Under npx (or npm run) the shell's `kill $!` reaches npm, which does not pass it on: the
 * stack would keep running with no parent. Started by npm, it stops when its parent is gone.
 */
const stopWithParent = (stop: () => void): void => {
  if (!process.env.npm_execpath && !process.env.npm_command) return;
  const timer = setInterval(() => {
    // Orphaned: re-parented to init (or a subreaper) since the command started.
    if (process.ppid !== PARENT_AT_START || process.ppid === 1) stop();
  }, 500);
  timer.unref();
};

/** The parent as the command started, taken before the (slow) stack start, not after it. */
const PARENT_AT_START = process.ppid;

export const up = async (options: UpOptions, out: Output): Promise<number> => {
  const stateDir = defaultStateDir();
  const holder = claimStateDir(stateDir);
  if (holder) throw inUse(stateDir, holder);
  let stack: LocalStack;
  try {
    stack = await LocalStack.start({
      stateDir,
      faults: faultsFrom(options),
      ...(options.retryIntervalMs !== undefined ? { retryIntervalMs: Number(options.retryIntervalMs) } : {}),
      schedules: options.schedules !== false,
      iam: options.iam !== false,
      onDenial: (denial) => out.event({ denied: denial }, upLog.denied(denial)),
      // The data plane's events: registrations, JITP outcomes, refused connections and publishes.
      onIotEvent: (event) => out.event({ iot: event }, upLog.iot(event)),
      onExecutionEvent: executionLogger(out, () => stack.engine.stateMachineArn.split(':').at(-1) ?? ''),
      // The pipeline's own events as they are put on the local bus (others, such as S3's, are not shown).
      onBusEvent: (event: unknown) => {
        const envelope = pipelineEnvelope(event);
        if (envelope) out.event({ pipelineEvent: envelope }, upEventLine(envelope));
      },
    });
  } catch (error) {
    releaseStateDir(stateDir);
    throw error;
  }
  await stack.advertise();
  const info = stack.info();
  out.event(
    {
      ready: true,
      endpoints: info.endpoints,
      bucket: info.bucket,
      stateMachineArn: info.stateMachineArn,
      stateDir,
      pid: process.pid,
      credentials: LOCAL_CREDENTIALS,
    },
    readyText({
      stateDir,
      pid: process.pid,
      endpoints: info.endpoints,
      bucket: info.bucket,
      incomingPrefix: info.incomingPrefix,
      stateMachineArn: info.stateMachineArn,
      credentials: LOCAL_CREDENTIALS,
      schedules: options.schedules !== false ? stack.schedules() : [],
      iam: options.iam !== false,
    }),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    stopWithParent(resolve);
  });
  await stack.stop();
  return 0;
};
