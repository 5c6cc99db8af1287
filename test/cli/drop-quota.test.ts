/**
 * `iot-ca drop <folder> --wait` at a tight IoT quota: the CLI's own reads (what each CA's drop
 * would change, and its final state) share the quota with the flows it starts, and must wait their
 * turn rather than fail the command (found by the bulk-drop benchmark).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningUp, runCli, startUp, stopUp } from '../fixtures/cli.ts';
import { makeCa, P256 } from '../fixtures/pki.ts';

const COUNT = 16;
let home: string;
let up: RunningUp;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'iot-ca-quota-'));
  // 2 calls per second per IoT operation: a fifth of AWS's, so the test meets the quota in seconds.
  up = await startUp(home, ['--iot-quota', '2']);
  mkdirSync(join(home, 'cas'));
  for (let i = 0; i < COUNT; i++) {
    const ca = await makeCa({ key: P256, subject: `CN=quota test CA ${i}`, fresh: true });
    writeFileSync(join(home, 'cas', `ca-${i}.pem`), ca.pem);
  }
});

afterAll(async () => {
  await stopUp(up);
  rmSync(home, { recursive: true, force: true });
});

describe('iot-ca drop at a tight IoT quota', () => {
  it('waits out throttled reads: every CA uploaded, followed and ACTIVE, exit 0', async () => {
    const run = await runCli(home, ['--local', '--json', 'drop', 'cas', '--mode', 'SNI_ONLY', '--wait']);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout);
    const files = summary.files as Array<{ outcome: string }>;
    expect(files).toHaveLength(COUNT);
    expect(files.every((file) => file.outcome === 'ACTIVE')).toBe(true);
  }, 180_000);
});
