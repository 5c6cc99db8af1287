/** What several commands share: acting on a target, and following one object's flow to its end. */
import { describeCa } from '../functions/aws/iot.ts';
import type { FailureReport, Receipt } from '../functions/core/results.ts';
import { resolveTarget, type GlobalOptions, type Target } from './context.ts';
import { findExecution, followExecution, readResult, type ExecutionOutcome } from './follow.ts';
import type { Output } from './output.ts';
import { shortId, stepLine } from './render.ts';

export const withTarget = async <T>(
  options: GlobalOptions,
  out: Output,
  run: (target: Target) => Promise<T>,
): Promise<T> => {
  const target = await resolveTarget(options, { onProgress: out.progress, onNotice: out.notice });
  try {
    return await run(target);
  } finally {
    await target.close();
  }
};

export interface Followed {
  key: string;
  execution: ExecutionOutcome;
  result: Receipt | FailureReport | undefined;
  active: boolean;
}

/** ACTIVE only if the receipt says so and IoT agrees. */
export const settle = async (target: Target, key: string, execution: ExecutionOutcome): Promise<Followed> => {
  const result = await readResult(target, key);
  let active = false;
  if (result?.outcome === 'ACTIVE') {
    active = (await describeCa(target.iot, result.certificateId))?.status === 'ACTIVE';
  }
  return { key, execution, result, active };
};

/** Follows the flow of one object to its end, each step reported as it ends. */
export const followObject = async (
  target: Target,
  out: Output,
  key: string,
  since: Date,
  executionArn?: string,
): Promise<Followed> => {
  const arn = executionArn ?? (await findExecution(target, key, since));
  out.progress(`following ${shortId(arn)} (${key})`);
  const execution = await followExecution(target, arn, (step) => out.progress(stepLine(step)));
  return settle(target, key, execution);
};

export const followedJson = (followed: Followed) => ({
  key: followed.key,
  executionArn: followed.execution.executionArn,
  status: followed.execution.status,
  ...(followed.execution.error ? { error: followed.execution.error } : {}),
  active: followed.active,
  steps: followed.execution.steps,
  result: followed.result ?? null,
});
