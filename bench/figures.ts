/** What every benchmark section reports, and the arithmetic they share. */
import { performance } from 'node:perf_hooks';

export interface Figure {
  name: string;
  value: string;
  target: string;
  /** null: reported without a target (the issue set none). */
  met: boolean | null;
  detail: Record<string, unknown>;
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

export const round = (value: number, digits = 2): number => Math.round(value * 10 ** digits) / 10 ** digits;

export const metText = (met: boolean | null): string => (met === null ? '—' : met ? 'yes' : '**no**');

/**
 * The share of wall time the calling thread was busy (0–1) while `work` ran: near 1, the figure is
 * bound by that thread (for the embedded stack's main thread: s3rver, the IoT emulator, the engine).
 */
export const busyShare = async <T>(work: () => Promise<T>): Promise<{ result: T; busy: number }> => {
  const busy = busyMeter();
  const result = await work();
  return { result, busy: busy() };
};

/** Starts measuring the calling thread's busy share; the returned function reads it so far. */
export const busyMeter = (): (() => number) => {
  const before = performance.eventLoopUtilization();
  return () => performance.eventLoopUtilization(before).utilization;
};
