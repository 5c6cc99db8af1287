/**
 * `iot-ca result <file|key>`: what became of a dropped file — its receipt or failure report (the
 * results contract), the execution that wrote it and its steps, or the execution still running.
 */
import { basename } from 'node:path';
import { resultKeyFor } from '../../functions/core/source.ts';
import type { FailureReport, Receipt } from '../../functions/core/results.ts';
import type { GlobalOptions, Target } from '../context.ts';
import { withTarget } from '../flow.ts';
import { ExecutionFinder, readResult, snapshotExecution, type ExecutionOutcome } from '../follow.ts';
import { CliError, type Output } from '../output.ts';
import { resultText } from '../render.ts';

/** How far back to look for a running execution of a key that has no result yet. */
const LOOKBACK_MS = 86_400_000;

/** `s3://bucket/key`, a key under the incoming prefix, or a local file's name (as `drop` names it). */
export const keyFor = (target: Target, reference: string): string => {
  if (reference.startsWith('s3://')) {
    const rest = reference.slice('s3://'.length);
    const slash = rest.indexOf('/');
    if (slash < 0 || rest.slice(0, slash) !== target.bucket)
      throw new CliError('UsageError', `${reference} is not in the CA bucket ${target.bucket}.`, 2);
    return rest.slice(slash + 1);
  }
  return reference.startsWith(target.incomingPrefix) ? reference : `${target.incomingPrefix}${basename(reference)}`;
};

type Outcome = 'ACTIVE' | 'FAILED' | 'RUNNING';

export const result = (reference: string, global: GlobalOptions, out: Output): Promise<number> =>
  withTarget(global, out, async (target) => {
    const key = keyFor(target, reference);
    const resultKey = resultKeyFor(key, target.resultsPrefix);
    const written: Receipt | FailureReport | undefined = await readResult(target, key);
    let executionArn = written?.executionId;
    let execution: ExecutionOutcome | undefined;
    if (executionArn) execution = await snapshotExecution(target, executionArn);
    if (!written || execution?.status === 'RUNNING') {
      // No result yet (or a newer run is on its way): the newest execution started for the key.
      const found = (await new ExecutionFinder(target, new Date(Date.now() - LOOKBACK_MS)).poll()).get(key);
      if (found && found !== executionArn) {
        executionArn = found;
        execution = await snapshotExecution(target, found);
      }
    }
    if (!written && !execution) {
      throw new CliError(
        'ResultNotFoundError',
        `No result at s3://${target.bucket}/${resultKey} and no execution for ${key}: was it dropped under that key (${target.rule.patterns.join(', ')})?`,
      );
    }
    const running = execution?.status === 'RUNNING';
    const outcome: Outcome = running || !written ? 'RUNNING' : written.outcome;
    out.result(
      {
        key,
        resultKey,
        outcome,
        result: written ?? null,
        execution: execution ?? (executionArn ? { executionArn, status: null, steps: [] } : null),
      },
      resultText({ key, bucket: target.bucket, resultKey, outcome, written, executionArn, execution }),
    );
    return outcome === 'ACTIVE' ? 0 : 1;
  });
