/**
 * The state directory of the embedded stack: where it is, the lock that gives it to one
 * `iot-ca up`, and the stack file through which that `up` announces itself.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { StackInfo } from './stack-types.ts';

export const defaultStateDir = (): string => resolve(process.env.IOT_CA_HOME ?? join(process.cwd(), '.iot-ca'));

export const STACK_FILE = 'stack.json';
/** Held by the one `iot-ca up` of a state directory: its pid, created exclusively. */
export const LOCK_FILE = 'up.lock';

/** Whether a process lives (EPERM: it does, but belongs to someone else). */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** The live process holding a state directory's `up` lock, with what it advertised (once it has). */
export interface StackHolder {
  pid: number;
  info?: StackInfo;
}

export const stackHolder = (stateDir: string): StackHolder | undefined => {
  let pid: number;
  try {
    pid = Number(readFileSync(join(stateDir, LOCK_FILE), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  try {
    const info = JSON.parse(readFileSync(join(stateDir, STACK_FILE), 'utf8')) as StackInfo;
    if (info.pid === pid) return { pid, info };
  } catch {
    // still starting: no stack.json yet
  }
  return { pid };
};

/**
 * Claims a state directory for one `iot-ca up` (docs/adr/0101-one-up-per-state-directory.md). The
 * lock is created exclusively, so of two `up`s started together one wins; a lock whose process
 * is gone is taken over. Returns the live holder when another process has it.
 */
export const claimStateDir = (stateDir: string): StackHolder | undefined => {
  mkdirSync(stateDir, { recursive: true });
  const lock = join(stateDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = stackHolder(stateDir);
      if (holder) return holder;
      rmSync(lock, { force: true });
    }
  }
  throw new Error(`Cannot claim ${lock}: another process keeps recreating it.`);
};

/** Gives the lock up, if this process holds it. */
export const releaseStateDir = (stateDir: string): void => {
  const lock = join(stateDir, LOCK_FILE);
  try {
    if (Number(readFileSync(lock, 'utf8').trim()) === process.pid) rmSync(lock, { force: true });
  } catch {
    // no lock: nothing to give up
  }
};

/** Takes the stack file away if this process wrote it (or it cannot be read): the stack is stopping. */
export const withdrawStackFile = (stateDir: string): void => {
  const stackFile = join(stateDir, STACK_FILE);
  if (existsSync(stackFile)) {
    try {
      if ((JSON.parse(readFileSync(stackFile, 'utf8')) as StackInfo).pid === process.pid)
        rmSync(stackFile, { force: true });
    } catch {
      rmSync(stackFile, { force: true });
    }
  }
};
