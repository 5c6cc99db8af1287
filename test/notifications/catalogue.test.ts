/** The event catalogue: every detail-type has its zod schema and its JSON Schema, and they agree. */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { CONTRACTS } from '../../build/schemas.ts';
import { DETAIL_SCHEMAS, DETAIL_TYPES } from '../../functions/core/events.ts';
import { ManualInputSchema } from '../../functions/core/schemas.ts';

const fileOf = (detailType: string) => `schemas/events/${detailType.toLowerCase().replace(/ /g, '-')}.schema.json`;

describe('the event catalogue', () => {
  it.each(DETAIL_TYPES)('"%s" has a zod schema and a generated JSON Schema of the same contract', (detailType) => {
    const file = fileOf(detailType);
    expect(existsSync(file), file).toBe(true);
    const contract = CONTRACTS[file as keyof typeof CONTRACTS];
    expect(contract?.schema, file).toBe(DETAIL_SCHEMAS[detailType]);
    expect(JSON.parse(readFileSync(file, 'utf8')).title).toContain(`"${detailType}"`);
  });

  it('documents nothing it does not publish', () => {
    const documented = Object.keys(CONTRACTS).filter((file) => file.startsWith('schemas/events/'));
    expect(documented.sort()).toEqual(DETAIL_TYPES.map(fileOf).sort());
  });
});

describe('the sample events under events/', () => {
  it.each(DETAIL_TYPES.filter((type) => type !== 'CA Retired'))(
    '"%s": events/pipeline/ holds an envelope whose detail the schema accepts',
    (detailType) => {
      const file = `events/pipeline/${detailType.toLowerCase().replace(/ /g, '-')}.json`;
      const sample = JSON.parse(readFileSync(file, 'utf8'));
      expect(sample).toMatchObject({ source: 'iot-ca-pipeline', 'detail-type': detailType });
      expect(DETAIL_SCHEMAS[detailType].safeParse(sample.detail).error).toBeUndefined();
    },
  );

  it("reconciliation's repair input is a manual start the pipeline accepts, and announces CA Drift Repaired", () => {
    const input = JSON.parse(readFileSync('events/reconcile-repair.json', 'utf8'));
    expect(ManualInputSchema.parse(input).repair?.drift.length).toBeGreaterThan(0);
    expect(ManualInputSchema.safeParse({ ...input, repair: { drift: [] } }).success).toBe(false);
  });
});
