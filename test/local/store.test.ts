/** The IoT emulator's record store: asynchronous writes that still land in order and whole. */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordStore } from '../../local/iot/store.ts';

const dir = mkdtempSync(join(tmpdir(), 'iot-ca-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('RecordStore', () => {
  it('lands the last of many unawaited writes to one record, whatever the disk does', async () => {
    const store = new RecordStore<{ n: number }>(join(dir, 'ordered'));
    const writes = Array.from({ length: 200 }, (_, n) => store.put('one', { n }));
    await Promise.all(writes);
    expect(JSON.parse(readFileSync(join(dir, 'ordered', 'one.json'), 'utf8'))).toEqual({ n: 199 });
    // A delete after a put wins too, and a put after that delete brings the record back.
    void store.put('two', { n: 1 });
    void store.delete('two');
    await store.put('three', { n: 3 });
    const last = store.delete('three').then(() => store.put('three', { n: 4 }));
    await last;
    expect(new RecordStore<{ n: number }>(join(dir, 'ordered')).loadAll()).toEqual(
      new Map([
        ['one', { n: 199 }],
        ['three', { n: 4 }],
      ]),
    );
  });

  it('writes 3,000 records at once without running out of file descriptors, and leaves no temporary file', async () => {
    const store = new RecordStore<{ id: number }>(join(dir, 'many'));
    await Promise.all(Array.from({ length: 3000 }, (_, id) => store.put(`r${id}`, { id })));
    const files = readdirSync(join(dir, 'many'));
    expect(files).toHaveLength(3000);
    expect(files.filter((file) => file.endsWith('.tmp'))).toEqual([]);
    expect(store.loadAll().get('r2999')).toEqual({ id: 2999 });
  });

  it('fails the write (not the process) when the folder is gone, and recovers when it is back', async () => {
    const folder = join(dir, 'gone');
    const store = new RecordStore<{ n: number }>(folder);
    rmSync(folder, { recursive: true, force: true });
    await expect(store.put('x', { n: 1 })).rejects.toMatchObject({ code: 'ENOENT' });
    const again = new RecordStore<{ n: number }>(folder);
    await again.put('x', { n: 2 });
    expect(again.loadAll().get('x')).toEqual({ n: 2 });
  });
});
