/**
 * `npm run test:load`: 2,000 CAs dropped at once while every IoT operation is held to AWS's
 * published 10 TPS, followed with the state machine's real backoff and jitter. Every CA must end
 * ACTIVE, once; the time against the quota floor is printed (its target lives in `npm run bench`).
 */
import { expect, it } from 'vitest';
import { runBurst } from '../../bench/burst.ts';

const COUNT = Number(process.env.LOAD_COUNT ?? 2000);
const TPS = 10;

it(`${COUNT} CAs dropped at once at ${TPS} TPS per IoT operation: all ACTIVE, none failed, none twice`, async () => {
  const result = await runBurst({ count: COUNT, tps: TPS, log: (line) => process.stderr.write(`${line}\n`) });
  process.stderr.write(
    `burst: ${result.count} CAs in ${result.seconds.toFixed(1)} s, quota floor ${result.floorSeconds.toFixed(1)} s: ${result.ratio.toFixed(2)}x; ` +
      `${result.throttled} throttled calls, ${result.retries} Task retries (${(result.retries / result.count).toFixed(1)} per CA)\n`,
  );
  expect({ active: result.active, failed: result.failed, lost: result.lost, duplicates: result.duplicates }).toEqual({
    active: COUNT,
    failed: 0,
    lost: 0,
    duplicates: 0,
  });
  // The quota was the constraint: without throttling this would prove nothing about bursts.
  expect(result.throttled).toBeGreaterThan(COUNT);
}, 1_800_000);
