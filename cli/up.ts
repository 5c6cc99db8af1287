/** `iot-ca up`: the local stack in the foreground, logging each execution as it runs. */
import type { ExecutionEvent, ExecutionRecord } from '../local/engine.ts';
import { AWS_DEFAULT_TPS, type FaultSettings } from '../local/iot/emulator.ts';
import { defaultStateDir, LocalStack } from '../local/stack.ts';
import { parseStartInput } from '../functions/lib/source.ts';
import type { Output } from './output.ts';

export interface UpOptions {
  /** Commander's --no-schedules: false turns the reconcile schedules off. */
  schedules?: boolean;
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
  if (options.iotQuota !== undefined && options.iotQuota !== false) faults.tps = options.iotQuota === true ? AWS_DEFAULT_TPS : Number(options.iotQuota);
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

export const up = async (options: UpOptions, out: Output): Promise<number> => {
  const entered = new Map<string, number>();
  const onExecutionEvent = (record: ExecutionRecord, event: ExecutionEvent): void => {
    const execution = record.name;
    const state = event.state?.name;
    switch (event.type) {
      case 'ExecutionStarted':
        out.event({ event: 'started', execution, key: keyOf(record.input) }, `▶ ${execution}  ${keyOf(record.input)}`);
        break;
      case 'StateEntered':
        entered.set(`${execution}/${state}`, event.timestamp);
        break;
      case 'StateExited': {
        const ms = event.timestamp - (entered.get(`${execution}/${state}`) ?? event.timestamp);
        out.event({ event: 'step', execution, state, ms }, `  ✓ ${String(state).padEnd(20)} ${String(ms).padStart(6)} ms`);
        break;
      }
      case 'StateRetried':
        out.event({ event: 'retry', execution, state }, `  ↻ ${state} retried`);
        break;
      case 'ExecutionSucceeded':
        out.event({ event: 'succeeded', execution }, `✔ ${execution}  ACTIVE`);
        break;
      case 'ExecutionFailed':
        out.event({ event: 'failed', execution, error: event.Error }, `✖ ${execution}  ${event.Error}`);
        break;
      default:
    }
  };
  const stateDir = defaultStateDir();
  const stack = await LocalStack.start({
    stateDir,
    faults: faultsFrom(options),
    ...(options.retryIntervalMs !== undefined ? { retryIntervalMs: Number(options.retryIntervalMs) } : {}),
    schedules: options.schedules !== false,
    onExecutionEvent,
  });
  await stack.advertise();
  const info = stack.info();
  out.event(
    { ready: true, endpoints: info.endpoints, bucket: info.bucket, stateMachineArn: info.stateMachineArn, stateDir },
    [
      `iot-ca local stack ready (state in ${stateDir})`,
      `  s3   ${info.endpoints.s3}   bucket ${info.bucket}, drop CAs under ${info.incomingPrefix}`,
      `  iot  ${info.endpoints.iot}`,
      `  sfn  ${info.endpoints.sfn}   ${info.stateMachineArn}`,
      ...(options.schedules !== false ? stack.schedules().map((rule) => `  schedule ${rule.name}: reconcile ${JSON.stringify(rule.input)} every ${rule.everyMs / 60_000} min`) : []),
      'Ctrl-C to stop.',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await stack.stop();
  return 0;
};
