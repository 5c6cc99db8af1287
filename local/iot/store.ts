/**
 * The emulated account's state on disk, one small JSON file per record so that a mutation costs
 * one file write whatever the number of CAs. Every write goes to a temporary file that is
 * fsynced and renamed over the old one: a crash leaves the old or the new record, never a torn one.
 *
 * Writes are asynchronous, so that one request's fsync does not stall every other request the
 * process is serving (the emulator shares its process with the whole local stack); writes to one
 * file still land in the order they were made, and the server answers a request only once its
 * writes are on disk.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

let tmpCounter = 0;

/** At most this many files are being written at once (seeding 10,000 CAs must not exhaust fds). */
const MAX_CONCURRENT_WRITES = 32;
let writing = 0;
const waiting: Array<() => void> = [];
const acquire = (): Promise<void> => {
  if (writing < MAX_CONCURRENT_WRITES) {
    writing += 1;
    return Promise.resolve();
  }
  return new Promise((resolve) => waiting.push(resolve));
};
// A freed slot goes straight to the next waiter, so the limit holds.
const release = (): void => {
  const next = waiting.shift();
  if (next) next();
  else writing -= 1;
};

/** The last change asked for each file; the next one starts when it has settled. */
const tails = new Map<string, Promise<void>>();
const inOrder = (path: string, change: () => Promise<void>): Promise<void> => {
  const run = async () => {
    await acquire();
    try {
      await change();
    } finally {
      release();
    }
  };
  const done = (tails.get(path) ?? Promise.resolve()).then(run, run);
  tails.set(path, done);
  const forget = () => {
    if (tails.get(path) === done) tails.delete(path);
  };
  void done.then(forget, forget);
  return done;
};

export const writeFileAtomic = (path: string, text: string): Promise<void> =>
  inOrder(path, async () => {
    const tmp = `${path}.${process.pid}.${tmpCounter++}.tmp`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  });

/** A folder of JSON records keyed by a file-safe id. */
export class RecordStore<T> {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private path(id: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(id) || id.startsWith('.')) throw new Error(`unsafe record id: ${id}`);
    return join(this.dir, `${id}.json`);
  }

  put(id: string, record: T): Promise<void> {
    return writeFileAtomic(this.path(id), JSON.stringify(record));
  }

  delete(id: string): Promise<void> {
    const path = this.path(id);
    return inOrder(path, () => rm(path, { force: true }));
  }

  /** Every record; leftovers of an interrupted write (`*.tmp`) are ignored and removed. */
  loadAll(): Map<string, T> {
    const records = new Map<string, T>();
    for (const file of readdirSync(this.dir)) {
      if (file.endsWith('.tmp')) {
        rmSync(join(this.dir, file), { force: true });
        continue;
      }
      if (!file.endsWith('.json')) continue;
      records.set(file.slice(0, -'.json'.length), JSON.parse(readFileSync(join(this.dir, file), 'utf8')) as T);
    }
    return records;
  }
}
