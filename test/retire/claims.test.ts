/**
 * retire-ca's claims on the embedded stack (local IAM enforced): a claim whose owner execution
 * was stopped (or is gone) is taken over by a new start of the same cause; a running owner keeps
 * it (`duplicate`); claims and receipts go to the stack's bucket whatever bucket the CA's
 * provenance tag names (ADR 0025, addendum "claims").
 */
import { describe, expect, it } from 'vitest';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { useLocalStack } from '../fixtures/stack.ts';
import { retireHelpers } from '../fixtures/retire.ts';
import { makeCa, P256 } from '../fixtures/pki.ts';
import { PROVENANCE_TAGS } from '../../functions/core/options.ts';
import { claimKeyFor } from '../../functions/core/retire.ts';
import type { ExecutionRecord } from '../../local/engine.ts';

const local = useLocalStack({ params: { retireSecondsPerDay: '1' } });
const { drop, describe_ } = retireHelpers(local);
const getJson = async (key: string, bucket = local.stack.bucket) =>
  JSON.parse(await (await local.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString());
const retire = (input: unknown, name?: string): Promise<ExecutionRecord> => local.stack.retireEngine.run(input, name);
const retireDenials = () =>
  local.stack.iam.guard.denials.filter((denial) =>
    /retire|Retire|DeviceCertificates|confirmDelete|recordRetired|DescribeExecution/i.test(JSON.stringify(denial)),
  );
const claimKey = (id: string, requestId: string) => claimKeyFor('results/', id, `request:${requestId}`);
const executionArn = (name: string) =>
  `${local.stack.retireEngine.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
const until = async (condition: () => boolean | Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

describe('a claim whose owner will never finish', () => {
  it('a running owner keeps it (duplicate, told to wait or stop it); stopped, a new start takes over and retires', async () => {
    const id = await drop('incoming/claims-stopped.pem', await makeCa({ key: P256 }));
    // A rotation's grace: the first execution waits a minute after claiming the cause.
    const input = { certificateId: id, reason: 'rotated', requestId: 'claims-stopped', graceSeconds: 60 };
    const first = local.stack.retireEngine.start(input, 'claims-first');
    await until(() => first.record.events.some((event) => event.state?.name === 'Grace'));
    expect((await getJson(claimKey(id, 'claims-stopped'))).executionId).toBe(first.record.executionArn);

    const second = await retire(input, 'claims-second');
    expect(second.status, second.cause).toBe('SUCCEEDED');
    expect(second.output).toMatchObject({ proceed: false, outcome: 'duplicate' });
    expect((second.output as { detail: string }).detail).toMatch(/still running.*stop it/);
    expect(describe_(id).status).toBe('ACTIVE');

    // StopExecution during the grace: no Catch runs, so the claim stays behind.
    first.abort();
    expect((await first.done).status).toBe('ABORTED');
    expect((await getJson(claimKey(id, 'claims-stopped'))).executionId).toBe(first.record.executionArn);

    const third = await retire({ ...input, graceSeconds: 0 }, 'claims-third');
    expect(third.status, `${third.error}: ${third.cause}`).toBe('SUCCEEDED');
    expect(third.output).toMatchObject({ outcome: 'retired' });
    expect(describe_(id)).toMatchObject({ status: 'INACTIVE', autoRegistrationStatus: 'DISABLE' });
    expect((await getJson(`results/retired/${id}.json`)).executionId).toBe(third.executionArn);
    expect(retireDenials()).toEqual([]);
  });

  it('a claim naming an execution Step Functions does not have is taken over', async () => {
    const id = await drop('incoming/claims-ghost.pem', await makeCa({ key: P256 }));
    await local.s3.send(
      new PutObjectCommand({
        Bucket: local.stack.bucket,
        Key: claimKey(id, 'claims-ghost'),
        Body: JSON.stringify({
          certificateId: id,
          cause: 'request:claims-ghost',
          executionId: executionArn('expired-long-ago'),
          claimedAt: '2026-01-01T00:00:00.000Z',
        }),
      }),
    );
    const record = await retire({ certificateId: id, reason: 'manual', requestId: 'claims-ghost' });
    expect(record.status, `${record.error}: ${record.cause}`).toBe('SUCCEEDED');
    expect(record.output).toMatchObject({ outcome: 'retired' });
    expect((await getJson(claimKey(id, 'claims-ghost'))).executionId).toBe(record.executionArn);
    expect(describe_(id).status).toBe('INACTIVE');
    expect(retireDenials()).toEqual([]);
  });

  it('a claim of a SUCCEEDED owner stays: duplicate', async () => {
    const id = await drop('incoming/claims-done.pem', await makeCa({ key: P256 }));
    const input = { certificateId: id, reason: 'manual', requestId: 'claims-done', revokeDevices: true };
    const first = await retire(input, 'claims-done-1');
    expect(first.status, first.cause).toBe('SUCCEEDED');
    const again = await retire(input, 'claims-done-2');
    expect(again.output).toMatchObject({ proceed: false, outcome: 'duplicate' });
    expect((await getJson(claimKey(id, 'claims-done'))).executionId).toBe(first.executionArn);
  });
});

describe('a CA whose provenance tag names another bucket', () => {
  it("is retired: claim and receipt in the stack's bucket, the tagged bucket only in the receipt's source", async () => {
    const id = await drop('incoming/claims-other-bucket.pem', await makeCa({ key: P256 }));
    local.stack.emulator.tagResource({
      resourceArn: local.stack.emulator.caArn(id),
      tags: [
        { Key: PROVENANCE_TAGS.bucket, Value: 'another-teams-bucket' },
        { Key: PROVENANCE_TAGS.key, Value: 'incoming/elsewhere.pem' },
      ],
    });
    const record = await retire({ certificateId: id, reason: 'moved', requestId: 'claims-other-bucket' });
    expect(record.status, `${record.error}: ${record.cause}`).toBe('SUCCEEDED');
    expect(record.output).toMatchObject({ outcome: 'retired' });
    expect(describe_(id)).toMatchObject({ status: 'INACTIVE', autoRegistrationStatus: 'DISABLE' });
    expect(await getJson(`results/retired/${id}.json`)).toMatchObject({
      outcome: 'retired',
      source: { bucket: 'another-teams-bucket', key: 'incoming/elsewhere.pem' },
    });
    expect((await getJson(claimKey(id, 'claims-other-bucket'))).executionId).toBe(record.executionArn);
    expect(retireDenials()).toEqual([]);
  });
});
