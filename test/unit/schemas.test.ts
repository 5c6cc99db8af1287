import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { CONTRACTS, contractJson } from '../../build/schemas.ts';
import { buildFailureReport, buildReceipt } from '../../functions/core/results.ts';
import { ManualInputSchema, ResultDocumentSchema, S3ObjectCreatedSchema } from '../../functions/core/schemas.ts';
import type { LoadedCertificate } from '../../functions/core/schemas.ts';

const Ajv2020 = createRequire(import.meta.url)('ajv/dist/2020') as new (
  options?: object,
) => {
  compile(schema: object): ((data: unknown) => boolean) & { errors?: unknown };
};

const ID = 'a'.repeat(64);
const certificate: LoadedCertificate = {
  source: { bucket: 'ca-bucket', key: 'incoming/a.pem', etag: 'e1', versionId: 'v1' },
  certificateId: ID,
  caPem: '-----BEGIN CERTIFICATE-----',
  certificateMode: 'SNI_ONLY',
  templateName: 'jitp',
  tags: { team: 'x' },
  subject: 'CN=x',
  notAfter: '2030-01-01T00:00:00.000Z',
  warnings: [],
};
const meta = { executionId: 'arn:exec', finishedAt: '2026-12-04T00:00:00.000Z' };
const receipt = buildReceipt(
  certificate,
  {
    certificateId: ID,
    certificateArn: `arn:aws:iot:us-east-1:1:cacert/${ID}`,
    adopted: false,
    configured: true,
    status: 'INACTIVE',
  },
  meta,
);
const report = buildFailureReport(
  certificate.source,
  { Error: 'ThrottledError', Cause: 'Rate exceeded' },
  certificate,
  meta,
  receipt,
);

describe('the contracts consumers read, as JSON Schema', () => {
  it.each(Object.keys(CONTRACTS))('%s is up to date with the zod schema (npm run schemas)', (file) => {
    expect(readFileSync(file, 'utf8')).toBe(contractJson(file as keyof typeof CONTRACTS));
  });

  it('accepts the receipt and the failure report the pipeline writes, and refuses a report without its error kind', () => {
    const validate = new Ajv2020({ strict: false }).compile(
      JSON.parse(readFileSync('schemas/result.schema.json', 'utf8')),
    );
    expect(validate(receipt), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(report).toMatchObject({ error: { transient: true }, previous: { certificateId: ID } });
    const { transient: _, ...withoutKind } = report.error;
    expect(validate({ ...report, error: withoutKind })).toBe(false);
    expect(validate({ ...receipt, outcome: 'MAYBE' })).toBe(false);
    // Additive fields stay valid: consumers of result@1 must not break on them.
    expect(validate({ ...receipt, newField: 1 })).toBe(true);
  });

  it('parses what it validates: the zod schema and the JSON Schema agree on these documents', () => {
    expect(ResultDocumentSchema.safeParse(receipt).success).toBe(true);
    expect(ResultDocumentSchema.safeParse(report).success).toBe(true);
    expect(ResultDocumentSchema.safeParse({ ...report, error: { name: 'x' } }).success).toBe(false);
  });
});

describe('execution inputs', () => {
  it('takes the samples in events/ for both triggers', () => {
    expect(ManualInputSchema.safeParse(JSON.parse(readFileSync('events/manual-execution.json', 'utf8'))).success).toBe(
      true,
    );
    expect(
      S3ObjectCreatedSchema.safeParse(JSON.parse(readFileSync('events/s3-object-created.json', 'utf8'))).success,
    ).toBe(true);
  });
});
