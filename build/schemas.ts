/**
 * Writes the JSON Schemas of the contracts consumers read (the result beside each CA file, the
 * reconcile report) from the zod schemas the functions use: `npm run schemas`. A test fails when
 * the committed files are stale.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod/mini';
import { PROJECT_ROOT } from '../local/app.ts';
import { ReconcileReportSchema, ResultDocumentSchema } from '../functions/core/schemas.ts';
import { CaRetiredDetailSchema, RetiredReceiptSchema } from '../functions/core/retire.ts';
import {
  CaDriftRepairedDetailSchema,
  CaExpiringDetailSchema,
  CaRegisteredDetailSchema,
  CaRegistrationFailedDetailSchema,
} from '../functions/core/events.ts';

export const CONTRACTS = {
  'schemas/result.schema.json': {
    schema: ResultDocumentSchema,
    id: 'iot-ca-pipeline/result@1',
    title: 'A receipt or failure report: results/<source key>.json',
  },
  'schemas/reconcile-report.schema.json': {
    schema: ReconcileReportSchema,
    id: 'iot-ca-pipeline/reconcile@1',
    title: 'A reconciliation report: results/reconcile/<run>.json',
  },
  'schemas/retired.schema.json': {
    schema: RetiredReceiptSchema,
    id: 'iot-ca-pipeline/retired@1',
    title: 'A retired receipt: results/retired/<certificateId>.json (retire-ca, ADR 0025)',
  },
  'schemas/events/ca-retired.schema.json': {
    schema: CaRetiredDetailSchema,
    id: 'iot-ca-pipeline/events/ca-retired@1',
    title: 'The detail of a "CA Retired" event (source iot-ca-pipeline)',
  },
  // The pipeline's events (source iot-ca-pipeline): the detail of each detail-type.
  'schemas/events/ca-registered.schema.json': {
    schema: CaRegisteredDetailSchema,
    id: 'iot-ca-pipeline/events/ca-registered@1',
    title: 'The detail of a "CA Registered" event (source iot-ca-pipeline)',
  },
  'schemas/events/ca-drift-repaired.schema.json': {
    schema: CaDriftRepairedDetailSchema,
    id: 'iot-ca-pipeline/events/ca-drift-repaired@1',
    title: 'The detail of a "CA Drift Repaired" event (source iot-ca-pipeline)',
  },
  'schemas/events/ca-registration-failed.schema.json': {
    schema: CaRegistrationFailedDetailSchema,
    id: 'iot-ca-pipeline/events/ca-registration-failed@1',
    title: 'The detail of a "CA Registration Failed" event (source iot-ca-pipeline)',
  },
  'schemas/events/ca-expiring.schema.json': {
    schema: CaExpiringDetailSchema,
    id: 'iot-ca-pipeline/events/ca-expiring@1',
    title: 'The detail of a "CA Expiring" event (source iot-ca-pipeline)',
  },
} as const;

export const contractJson = (file: keyof typeof CONTRACTS): string => {
  const { schema, id, title } = CONTRACTS[file];
  return `${JSON.stringify({ $id: id, title, ...z.toJSONSchema(schema, { io: 'input' }) }, null, 2)}\n`;
};

if (process.argv[1]?.endsWith('build/schemas.ts')) {
  for (const file of Object.keys(CONTRACTS) as Array<keyof typeof CONTRACTS>) {
    writeFileSync(join(PROJECT_ROOT, file), contractJson(file));
    process.stdout.write(`wrote ${file}\n`);
  }
}
