/** `iot-ca reconcile`: reconciliation now, and its report. */
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { reconcileReportKeyFor } from '../../functions/core/source.ts';
import type { ReconcileReport } from '../../functions/reconcile-report.ts';
import type { GlobalOptions } from '../context.ts';
import { withTarget } from '../flow.ts';
import { followExecution, readJson } from '../follow.ts';
import { CliError, type Output } from '../output.ts';
import { reconcileText, shortId, stepLine } from '../render.ts';

export const reconcile = (options: { deep?: boolean }, global: GlobalOptions, out: Output): Promise<number> =>
  withTarget(global, out, async (target) => {
    const started = await target.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: target.reconcileStateMachineArn,
        input: JSON.stringify({ bucket: target.bucket, deep: Boolean(options.deep) }),
      }),
    );
    const arn = started.executionArn as string;
    out.progress(`reconciling (${options.deep ? 'deep' : 'shallow'}): ${shortId(arn)}`);
    const execution = await followExecution(target, arn, (step) => out.progress(stepLine(step)));
    if (execution.status !== 'SUCCEEDED')
      throw new CliError(
        execution.error ?? 'ReconcileFailedError',
        execution.cause ?? `reconcile ended ${execution.status}`,
      );
    const reportKey = reconcileReportKeyFor(shortId(arn), target.resultsPrefix);
    const report = await readJson<ReconcileReport>(target, reportKey);
    if (!report) throw new CliError('ReconcileFailedError', `reconcile succeeded but wrote no report at ${reportKey}`);
    const findings = (await readJson<Array<Record<string, unknown>>>(target, report.findingsKey)) ?? [];
    out.result({ ...report, findings }, reconcileText(report, findings));
    return report.counts.errors === 0 ? 0 : 1;
  });
