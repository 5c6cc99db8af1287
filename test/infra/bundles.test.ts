/**
 * The deployable bundles themselves, not their sources: built as `serverless package` builds them
 * (serverless.yml's esbuild options and plugins), then run as the local stack's Tasks. This is
 * what proves the build plugins leave the bundled SDK working: its credentials come from the
 * environment, and its trimmed schemas still serialise every call the pipeline makes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { bundleFunctions } from '../../build/bundle.ts';
import { PROJECT_ROOT } from '../../local/app.ts';
import { LocalStack } from '../../local/stack.ts';
import { inspectCaFile } from '../../functions/core/certificate.ts';
import type { ReconcileReport } from '../../functions/reconcile-report.ts';
import { makeCa, makeLeaf } from '../fixtures/pki.ts';

let dir: string;
let files: Record<string, string>;
let stack: LocalStack;
let s3: S3Client;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iot-ca-bundles-'));
  ({ files } = await bundleFunctions(PROJECT_ROOT, join(dir, 'bundles')));
  stack = await LocalStack.start({ stateDir: join(dir, 'state'), retryIntervalMs: 5, bundles: files });
  s3 = new S3Client({});
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const drop = async (key: string, body: string, metadata: Record<string, string> = {}) => {
  const before = stack.engine.list().length;
  await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body, Metadata: metadata }));
  while (stack.engine.list().length === before) await new Promise((resolve) => setTimeout(resolve, 5));
  await stack.idle();
  return stack.engine.list()[before];
};

describe('the deployable bundles', () => {
  it('carry only the credential providers Lambda can use', () => {
    for (const [name, file] of Object.entries(files)) {
      const text = readFileSync(file, 'utf8');
      expect(text, name).toContain('AWS_ACCESS_KEY_ID');
      // The default chain's other providers name these settings; Lambda never sets them.
      expect(text, name).not.toContain('AWS_WEB_IDENTITY_TOKEN_FILE');
      expect(text, name).not.toContain('sso_start_url');
      expect(text, name).not.toContain('credential_process');
    }
  });

  it('keep only the IoT operations a function calls', () => {
    const attachTemplate = readFileSync(files.attachTemplate as string, 'utf8');
    expect(attachTemplate).toContain('/cacertificate/{certificateId}');
    // An operation no function calls: its HTTP binding must not be in any bundle.
    for (const [name, file] of Object.entries(files))
      expect(readFileSync(file, 'utf8'), name).not.toContain('/thing-groups/updateThingGroupsForThing');
  });

  it("keep only the schemas a function uses, so none builds another step's at init (ADR 0029)", () => {
    const text = (name: string) => readFileSync(files[name] as string, 'utf8');
    // Messages and enum values each found in one schema module's definitions only.
    const reconcileCounts = 'deepChecked'; // ReconcileCountsSchema
    const retireRequest = 'Object Deleted'; // S3ObjectDeletedSchema, what starts retire-ca
    const ownership = 'verification-certificate'; // OwnershipSchema, part of LoadedCertificateSchema
    expect(text('tagCa')).not.toContain(reconcileCounts);
    expect(text('tagCa')).not.toContain(retireRequest);
    expect(text('tagCa')).not.toContain(ownership);
    expect(text('attachTemplate')).not.toContain(ownership);
    expect(text('confirmDelete')).not.toContain(retireRequest);
    // ...while the functions that parse them still carry them.
    expect(text('reconcilePlan')).toContain(reconcileCounts);
    expect(text('resolveRetire')).toContain(retireRequest);
    expect(text('registerCa')).toContain(ownership);
    // PendingNoticeSchema (docs/adr/0030) sits in core/events.ts beside what RecordFailure uses.
    const pendingNotice = 'iot-ca-pipeline/pending-notice@1';
    expect(text('recordResult')).not.toContain(pendingNotice);
    expect(text('reconcileReport')).toContain(pendingNotice);
  });

  it('register a CA end to end (DEFAULT mode), write its receipt, and reconcile it', async () => {
    const ca = await makeCa();
    const code = stack.emulator.getRegistrationCode().registrationCode;
    const verification = await makeLeaf(ca, `CN=${code}`);
    const flow = await drop('incoming/bundled.pem', `${ca.pem}${verification.pem}`, { tags: 'team=bundles' });
    expect(flow).toMatchObject({ status: 'SUCCEEDED' });
    const id = inspectCaFile(ca.pem).certificateId;
    const registered = stack.emulator.snapshot().find((entry) => entry.certificateId === id);
    expect(registered).toMatchObject({ status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' });
    expect(registered?.tags).toMatchObject({ team: 'bundles', 'iot-ca:source-key': 'incoming/bundled.pem' });
    const receipt = await s3.send(
      new GetObjectCommand({ Bucket: stack.bucket, Key: 'results/incoming/bundled.pem.json' }),
    );
    expect(
      JSON.parse(await (receipt.Body as { transformToString(): Promise<string> }).transformToString()),
    ).toMatchObject({
      outcome: 'ACTIVE',
      certificateId: id,
    });

    const { done } = stack.reconcileEngine.start({ bucket: stack.bucket, deep: true });
    const run = await done;
    expect(run.status).toBe('SUCCEEDED');
    const { report } = run.output as { report: ReconcileReport };
    expect(report.counts.deepChecked).toBeGreaterThanOrEqual(1);
    expect(report.counts.repaired).toBe(0);
  });

  it('fail a bad upload with its named error (SDK error shapes survive bundling)', async () => {
    const flow = await drop('incoming/not-a-cert.pem', 'hello');
    expect(flow).toMatchObject({ status: 'FAILED', error: 'NotPemError' });
    const ca = await makeCa();
    const missing = await drop('incoming/unverified.pem', ca.pem);
    expect(missing).toMatchObject({ status: 'FAILED', error: 'VerificationCertificateMissingError' });
  });
});
