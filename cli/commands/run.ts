/** `iot-ca run`: a manual execution, followed to its end. */
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { GlobalOptions } from '../context.ts';
import { readText } from '../files.ts';
import { followedJson, followObject, withTarget } from '../flow.ts';
import { CliError, type Output } from '../output.ts';
import { followedText } from '../render.ts';

export const run = (file: string, options: { wait?: boolean }, global: GlobalOptions, out: Output): Promise<number> => {
  const text = readText(file, 'input file');
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch {
    throw new CliError('InvalidInputError', `${file} is not JSON; expected {"bucket": "...", "key": "..."}.`);
  }
  return withTarget(global, out, async (target) => {
    const started = await target.sfn.send(
      new StartExecutionCommand({ stateMachineArn: target.stateMachineArn, input: JSON.stringify(input) }),
    );
    const arn = started.executionArn as string;
    out.progress(`started ${arn}`);
    if (options.wait === false) {
      out.result({ executionArn: arn }, arn);
      return 0;
    }
    const key =
      typeof input === 'object' && input !== null && typeof (input as { key?: unknown }).key === 'string'
        ? (input as { key: string }).key
        : '';
    const followed = await followObject(target, out, key, new Date(), arn);
    out.result(followedJson(followed), followedText(target.resultsPrefix, followed));
    return followed.active ? 0 : 1;
  });
};
