/** The whole flow through S3 uploads on the embedded stack: s3rver → rule → engine → handlers → IoT emulator. */
import { describe, expect, it } from 'vitest';
import {
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  PutBucketCorsCommand,
} from '@aws-sdk/client-s3';
import {
  DescribeCACertificateCommand,
  ListCACertificatesCommand,
  ListTagsForResourceCommand,
} from '@aws-sdk/client-iot';
import { useLocalStack } from '../fixtures/stack.ts';
import { inspectCaFile } from '../../functions/core/certificate.ts';
import { makeCa, makeLeaf, type Pki } from '../fixtures/pki.ts';

const local = useLocalStack();
const { put, settle, resultOf } = local;

const caState = async (pki: Pki) => {
  const certificateId = inspectCaFile(pki.pem).certificateId;
  const described = await local.iot.send(new DescribeCACertificateCommand({ certificateId }));
  const tags = await local.iot.send(
    new ListTagsForResourceCommand({ resourceArn: described.certificateDescription?.certificateArn }),
  );
  return {
    status: described.certificateDescription?.status,
    autoRegistration: described.certificateDescription?.autoRegistrationStatus,
    mode: described.certificateDescription?.certificateMode,
    template: described.registrationConfig?.templateName,
    tags: Object.fromEntries((tags.tags ?? []).map((t) => [t.Key, t.Value])),
  };
};
const countCas = async () =>
  (await local.iot.send(new ListCACertificatesCommand({ pageSize: 250 }))).certificates?.length ?? 0;

describe('the embedded stack, driven by S3 uploads', () => {
  it('DEFAULT with the verification certificate in the same file ends ACTIVE with template and tags', async () => {
    const ca = await makeCa();
    const verification = await makeLeaf(ca, `CN=${local.code}`);
    await put('incoming/same-file.pem', `${ca.pem}${verification.pem}`, { tags: 'team=factory' });
    await settle();
    expect(await caState(ca)).toMatchObject({
      status: 'ACTIVE',
      autoRegistration: 'ENABLE',
      mode: 'DEFAULT',
      template: 'iot-ca-local-jitp',
      tags: {
        team: 'factory',
        'iot-ca:source-key': 'incoming/same-file.pem',
        'iot-ca:source-bucket': local.stack.bucket,
      },
    });
    expect(await resultOf('incoming/same-file.pem')).toMatchObject({ outcome: 'ACTIVE', certificateMode: 'DEFAULT' });
  });

  it('DEFAULT with the verification certificate as a sibling object ends ACTIVE', async () => {
    const ca = await makeCa({ key: { type: 'ec', curve: 'P-384' } });
    await put('incoming/sibling.verification.pem', (await makeLeaf(ca, `CN=${local.code}`)).pem);
    await settle();
    await put('incoming/sibling.pem', ca.pem);
    await settle();
    expect(await caState(ca)).toMatchObject({ status: 'ACTIVE', template: 'iot-ca-local-jitp' });
    expect(await resultOf('incoming/sibling.pem')).toMatchObject({ outcome: 'ACTIVE' });
  });

  it('a verification sibling uploaded after a failed DEFAULT drop re-runs its CA to ACTIVE', async () => {
    const ca = await makeCa();
    await put('incoming/late.crt', ca.pem);
    await settle();
    expect(await resultOf('incoming/late.crt')).toMatchObject({
      outcome: 'FAILED',
      error: { name: 'VerificationCertificateMissingError' },
    });
    await put('incoming/late.verification.pem', (await makeLeaf(ca, `CN=${local.code}`)).pem);
    await settle();
    expect(await resultOf('incoming/late.crt')).toMatchObject({ outcome: 'ACTIVE' });
    expect((await caState(ca)).status).toBe('ACTIVE');
  });

  it('SNI_ONLY ends ACTIVE with its template and tags', async () => {
    const ca = await makeCa({ key: { type: 'ec', curve: 'P-256' } });
    await put('incoming/sni.pem', ca.pem, { 'certificate-mode': 'SNI_ONLY', tags: 'env=prod' });
    await settle();
    expect(await caState(ca)).toMatchObject({
      status: 'ACTIVE',
      mode: 'SNI_ONLY',
      template: 'iot-ca-local-jitp',
      tags: { env: 'prod' },
    });
  });

  it('a wrong-CN verification ends in a named failure report and registers nothing', async () => {
    const before = await countCas();
    const ca = await makeCa();
    await put('incoming/wrong-cn.pem', `${ca.pem}${(await makeLeaf(ca, 'CN=not-the-code')).pem}`);
    await settle();
    const report = await resultOf('incoming/wrong-cn.pem');
    expect(report).toMatchObject({ outcome: 'FAILED', error: { name: 'RegistrationCodeMismatchError' } });
    expect(await countCas()).toBe(before);
    const execution = local.stack.engine.list().find((record) => JSON.stringify(record.input).includes('wrong-cn.pem'));
    expect(execution).toMatchObject({ status: 'FAILED', error: 'RegistrationCodeMismatchError' });
  });

  it('a re-drop of the same CA leaves one CA and succeeds', async () => {
    const ca = await makeCa();
    const body = `${ca.pem}${(await makeLeaf(ca, `CN=${local.code}`)).pem}`;
    await put('incoming/redrop.pem', body);
    await settle();
    const before = await countCas();
    await put('incoming/redrop.pem', body);
    await settle();
    expect(await countCas()).toBe(before);
    expect(await resultOf('incoming/redrop.pem')).toMatchObject({ outcome: 'ACTIVE', adopted: true });
  });

  it('ignores uploads outside the rule (other prefix, other suffix) and its own results', async () => {
    const started = local.stack.engine.list().length;
    await put('elsewhere/ca.pem', 'x');
    await put('incoming/notes.txt', 'x');
    await settle();
    expect(local.stack.engine.list().length).toBe(started);
  });

  it('S3 reads racing writes of the same key see a whole object, old or new, as S3 guarantees', async () => {
    local.stack.eventsEnabled = false;
    const bodies = ['a'.repeat(40_000), 'b'.repeat(20_000)];
    await put('race/object.pem', bodies[0] as string);
    const reads: string[] = [];
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        if (i % 2 === 0) await put('race/object.pem', bodies[(i / 2) % 2] as string);
        else {
          const response = await local.s3.send(
            new GetObjectCommand({ Bucket: local.stack.bucket, Key: 'race/object.pem' }),
          );
          reads.push(await (response.Body as { transformToString(): Promise<string> }).transformToString());
        }
      }),
    );
    local.stack.eventsEnabled = true;
    expect(reads).toHaveLength(20);
    for (const body of reads) expect(bodies).toContain(body);
  });

  it('local S3 serves bucket configuration from memory, yet sees it change (CORS set, read, deleted)', async () => {
    const cors = () => local.s3.send(new GetBucketCorsCommand({ Bucket: local.stack.bucket }));
    await expect(cors()).rejects.toMatchObject({ name: 'NoSuchCORSConfiguration' });
    await local.s3.send(
      new PutBucketCorsCommand({
        Bucket: local.stack.bucket,
        CORSConfiguration: { CORSRules: [{ AllowedMethods: ['GET'], AllowedOrigins: ['http://127.0.0.1'] }] },
      }),
    );
    expect((await cors()).CORSRules).toEqual([
      expect.objectContaining({ AllowedMethods: ['GET'], AllowedOrigins: ['http://127.0.0.1'] }),
    ]);
    await local.s3.send(new DeleteBucketCorsCommand({ Bucket: local.stack.bucket }));
    await expect(cors()).rejects.toMatchObject({ name: 'NoSuchCORSConfiguration' });
  });

  it('binds every server to 127.0.0.1', () => {
    const { mqtt, ...http } = local.stack.endpoints;
    for (const url of Object.values(http)) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(mqtt.url).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
  });
});
