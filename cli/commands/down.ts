/** `iot-ca down`: stops the `iot-ca up` running on this state directory. */
import { defaultStateDir, stackHolder } from '../../local/stack.ts';
import { CliError, type Output } from '../output.ts';
import { downText } from '../render.ts';

/** Stops the `up` of this state directory and waits until it has stopped. */
export const down = async (out: Output, timeoutMs = 60_000): Promise<number> => {
  const stateDir = defaultStateDir();
  const holder = stackHolder(stateDir);
  if (!holder) {
    out.result({ stopped: false, stateDir }, downText(stateDir, undefined));
    return 0;
  }
  process.kill(holder.pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  // It finishes running executions first, then frees the state directory.
  while (stackHolder(stateDir)?.pid === holder.pid) {
    if (Date.now() > deadline)
      throw new CliError(
        'StopTimeoutError',
        `iot-ca up (pid ${holder.pid}) has not stopped within ${timeoutMs / 1000}s; executions may still be running.`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  out.result({ stopped: true, pid: holder.pid, stateDir }, downText(stateDir, holder.pid));
  return 0;
};
