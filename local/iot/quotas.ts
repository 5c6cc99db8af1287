/**
 * What stands between a call and its operation: the per-operation request quota (a token bucket)
 * and injected faults. A fault is only ever one the operation's model lists (operations.ts): an
 * operation without ServiceUnavailableException in its model fails with InternalFailureException.
 */
import { iotError } from './errors.ts';
import { OPERATION_ERRORS, type Operation } from './operations.ts';

/** AWS's published control-plane quota for the CA calls (AWS-IOT-RULES.md "Throttling"). */
export const AWS_DEFAULT_TPS = 10;

/**
 * Quotas that hold even when none is configured: what the account cannot turn off. JITP runs
 * RegisterThing on the account's behalf, which AWS's quota table holds to 10 requests per second
 * (docs/aws-iot-rules.md, "JITP"); `tps` overrides it like any other operation's.
 */
export const ALWAYS_ON_TPS: Partial<Record<Operation, number>> = { RegisterThing: AWS_DEFAULT_TPS };

export interface FaultSettings {
  /** Requests per second per operation; undefined = no quota (the default, as most tests want). */
  tps?: number | Partial<Record<Operation, number>>;
  /** Share of calls answered ThrottlingException regardless of quota, 0–1. */
  throttleRate?: number;
  /** Share of calls answered 500/503, 0–1. */
  faultRate?: number;
  /** Added latency per call, ms. */
  latencyMs?: number;
}

/** A token bucket per operation: capacity = TPS, refilled continuously. */
class Quota {
  private tokens: number;
  private last: number;
  constructor(
    private readonly tps: number,
    now: number,
  ) {
    this.tokens = tps;
    this.last = now;
  }
  take(now: number): boolean {
    this.tokens = Math.min(this.tps, this.tokens + ((now - this.last) / 1000) * this.tps);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** The 5xx errors `operation`'s model lists, in the order the fault dice picks them. */
const serverFaults = (operation: Operation) =>
  (['ServiceUnavailableException', 'InternalFailureException'] as const).filter((name) =>
    OPERATION_ERRORS[operation].includes(name),
  );

export class Admission {
  /** Calls received, by operation (admitted or not). */
  readonly calls = new Map<Operation, number>();
  /** Calls admitted past the quota and injected faults, by operation: what the quota floor counts. */
  readonly admitted = new Map<Operation, number>();
  private readonly quotas = new Map<Operation, Quota>();

  constructor(
    private readonly settings: () => FaultSettings,
    private readonly random: () => number,
  ) {}

  /** Throws ThrottlingException or a 5xx the operation's model lists; counts the call either way. */
  admit(operation: Operation): void {
    this.calls.set(operation, (this.calls.get(operation) ?? 0) + 1);
    const { tps, throttleRate = 0, faultRate = 0 } = this.settings();
    const limit = (typeof tps === 'number' ? tps : tps?.[operation]) ?? ALWAYS_ON_TPS[operation];
    if (limit !== undefined) {
      const quota = this.quotas.get(operation) ?? new Quota(limit, Date.now());
      this.quotas.set(operation, quota);
      if (!quota.take(Date.now())) throw iotError('ThrottlingException', `Rate exceeded for ${operation}`);
    }
    if (throttleRate > 0 && this.random() < throttleRate)
      throw iotError('ThrottlingException', 'Rate exceeded (injected)');
    if (faultRate > 0 && this.random() < faultRate) {
      const faults = serverFaults(operation);
      const name = faults[Math.min(faults.length - 1, Math.floor(this.random() * faults.length))];
      throw name === 'ServiceUnavailableException'
        ? iotError(name, 'Service unavailable (injected)')
        : iotError('InternalFailureException', 'Internal failure (injected)');
    }
    this.admitted.set(operation, (this.admitted.get(operation) ?? 0) + 1);
  }

  resetQuotas(): void {
    this.quotas.clear();
  }
}
