/**
 * The emulated account's state on disk, one small JSON file per record so that a mutation costs
 * one file write whatever the number of CAs. Every write goes to a temporary file that is
 * fsynced and renamed over the old one: a crash leaves the old or the new record, never a torn one.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

let tmpCounter = 0;

export const writeFileAtomic = (path: string, text: string): void => {
  const tmp = `${path}.${process.pid}.${tmpCounter++}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
};

/** A folder of JSON records keyed by a file-safe id. */
export class RecordStore<T> {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private path(id: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(id) || id.startsWith('.')) throw new Error(`unsafe record id: ${id}`);
    return join(this.dir, `${id}.json`);
  }

  put(id: string, record: T): void {
    writeFileAtomic(this.path(id), JSON.stringify(record));
  }

  delete(id: string): void {
    rmSync(this.path(id), { force: true });
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
