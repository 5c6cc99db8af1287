/** retire-ca's pure logic: input shapes, the policy's precedence, the cause, the receipt and its event. */
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import {
  buildRetiredReceipt,
  causeOf,
  claimKeyFor,
  countByStatus,
  MAX_RETIRE_WAIT_SECONDS,
  parseDays,
  parseRetireInput,
  reasonOf,
  resolvePolicy,
  RETIRE_TAGS,
  retiredEvent,
  retireExecutionName,
  waitSeconds,
  type RetirePlan,
} from '../../functions/core/retire.ts';
import { isPipelineError } from '../../functions/core/errors.ts';

const Ajv2020 = createRequire(import.meta.url)('ajv/dist/2020') as new (
  options?: object,
) => { compile(schema: object): ((data: unknown) => boolean) & { errors?: unknown } };
const validator = (file: string) => new Ajv2020({ strict: false }).compile(JSON.parse(readFileSync(file, 'utf8')));

const ID = 'a'.repeat(64);
const NEW = 'b'.repeat(64);
const deleted = (versionId?: string, sequencer?: string) => ({
  version: '0',
  source: 'aws.s3',
  'detail-type': 'Object Deleted',
  detail: {
    bucket: { name: 'ca-bucket' },
    object: {
      key: 'incoming/a.pem',
      ...(versionId ? { 'version-id': versionId } : {}),
      ...(sequencer ? { sequencer } : {}),
    },
    'deletion-type': 'Delete Marker Created',
  },
});
const defaults = { policy: 'deactivate' as const, deleteAfterDays: 30, revokeDevices: false, secondsPerDay: 86_400 };

describe('retire-ca input', () => {
  it('takes an S3 Object Deleted event or a request, and names anything else with the remedy', () => {
    expect(parseRetireInput(deleted('v1')).kind).toBe('s3');
    expect(parseRetireInput({ certificateId: ID, reason: 'compromised' })).toEqual({
      kind: 'request',
      request: { certificateId: ID, reason: 'compromised' },
    });
    for (const bad of [
      {},
      { certificateId: 'xyz' },
      { certificateId: ID, policy: 'purge' },
      { certificateId: ID, extra: 1 },
    ]) {
      try {
        parseRetireInput(bad);
        expect.unreachable();
      } catch (error) {
        expect(isPipelineError(error, 'InvalidInputError')).toBe(true);
        expect((error as Error).message).toMatch(/certificateId/);
      }
    }
  });

  it('names the cause by the delete marker, else the sequencer, else the requestId or execution name', () => {
    expect(causeOf(parseRetireInput(deleted('v1', 's1')), 'exec')).toBe('s3-delete:incoming/a.pem:v1');
    expect(causeOf(parseRetireInput(deleted(undefined, 's1')), 'exec')).toBe('s3-delete:incoming/a.pem:s1');
    expect(causeOf(parseRetireInput({ certificateId: ID, requestId: 'run-7' }), 'exec')).toBe('request:run-7');
    expect(causeOf(parseRetireInput({ certificateId: ID }), 'exec')).toBe('execution:exec');
    expect(reasonOf(parseRetireInput(deleted('v1')))).toBe('object-deleted');
    expect(reasonOf(parseRetireInput({ certificateId: ID }))).toBe('requested');
    // Duplicate events claim the same object; another cause another.
    const one = claimKeyFor('results/', ID, 's3-delete:incoming/a.pem:v1');
    expect(claimKeyFor('results/', ID, 's3-delete:incoming/a.pem:v1')).toBe(one);
    expect(claimKeyFor('results/', ID, 's3-delete:incoming/a.pem:v2')).not.toBe(one);
    expect(one.startsWith(`results/retired/claims/${ID}/`)).toBe(true);
  });

  it('names reconcile starts once per CA and window', () => {
    expect(retireExecutionName(ID, 5)).toBe(retireExecutionName(ID, 5));
    expect(retireExecutionName(ID, 5)).not.toBe(retireExecutionName(ID, 6));
    expect(retireExecutionName(ID, 5)).toMatch(/^retire-[0-9a-f]{48}$/);
  });
});

describe('the retire policy', () => {
  it('input over the CA tags over the deployment', () => {
    expect(resolvePolicy(defaults, {})).toMatchObject({
      policy: 'deactivate',
      deleteAfterDays: 30,
      revokeDevices: false,
      from: { policy: 'deployment', deleteAfterDays: 'deployment', revokeDevices: 'deployment' },
    });
    const tags = {
      [RETIRE_TAGS.policy]: 'delete-after',
      [RETIRE_TAGS.deleteAfterDays]: '7',
      [RETIRE_TAGS.revokeDevices]: 'TRUE',
    };
    expect(resolvePolicy(defaults, tags)).toMatchObject({
      policy: 'delete-after',
      deleteAfterDays: 7,
      revokeDevices: true,
    });
    expect(resolvePolicy(defaults, tags, { policy: 'deactivate', revokeDevices: false })).toMatchObject({
      policy: 'deactivate',
      deleteAfterDays: 7,
      revokeDevices: false,
      from: { policy: 'input', deleteAfterDays: 'tag', revokeDevices: 'input' },
    });
  });

  it('a malformed tag is InvalidRetirePolicyError naming the tag', () => {
    for (const tags of [
      { [RETIRE_TAGS.policy]: 'purge' },
      { [RETIRE_TAGS.deleteAfterDays]: '-1' },
      { [RETIRE_TAGS.deleteAfterDays]: 'soon' },
      { [RETIRE_TAGS.revokeDevices]: 'yes' },
    ]) {
      try {
        resolvePolicy(defaults, tags);
        expect.unreachable();
      } catch (error) {
        expect(isPipelineError(error, 'InvalidRetirePolicyError')).toBe(true);
        expect((error as Error).message).toContain(Object.keys(tags)[0]);
      }
    }
  });

  it('bounds the Waits to 360 days together: a Standard execution lasts at most a year', () => {
    const policyError = (run: () => unknown, names: string) => {
      try {
        run();
        expect.unreachable();
      } catch (error) {
        expect(isPipelineError(error, 'InvalidRetirePolicyError'), String(error)).toBe(true);
        expect((error as Error).message).toContain(names);
        expect((error as Error).message).toMatch(/360 days/);
      }
    };
    expect(MAX_RETIRE_WAIT_SECONDS).toBe(360 * 86_400);
    // Tag and deployment param (both parsed by parseDays).
    expect(parseDays('360', 'RETIRE_DELETE_AFTER_DAYS')).toBe(360);
    policyError(() => parseDays('366', 'RETIRE_DELETE_AFTER_DAYS'), 'RETIRE_DELETE_AFTER_DAYS');
    policyError(() => resolvePolicy(defaults, { [RETIRE_TAGS.deleteAfterDays]: '400' }), RETIRE_TAGS.deleteAfterDays);
    // The input: too many days, too long a grace.
    policyError(() => parseRetireInput({ certificateId: ID, deleteAfterDays: 365 }), 'deleteAfterDays');
    policyError(
      () => parseRetireInput({ certificateId: ID, graceSeconds: MAX_RETIRE_WAIT_SECONDS + 1 }),
      'graceSeconds',
    );
    expect(parseRetireInput({ certificateId: ID, deleteAfterDays: 360, graceSeconds: 3600 }).kind).toBe('request');
    // Together: 360 days of delete-after plus an hour of grace is over; without delete-after the grace alone counts.
    policyError(
      () => resolvePolicy(defaults, {}, { policy: 'delete-after', deleteAfterDays: 360, graceSeconds: 3600 }),
      'input deleteAfterDays',
    );
    expect(resolvePolicy(defaults, {}, { policy: 'deactivate', deleteAfterDays: 360, graceSeconds: 3600 }).policy).toBe(
      'deactivate',
    );
    expect(
      resolvePolicy(defaults, {}, { policy: 'delete-after', deleteAfterDays: 359, graceSeconds: 86_400 })
        .deleteAfterDays,
    ).toBe(359);
    // A deployment's compressed or stretched day counts in seconds.
    policyError(
      () =>
        resolvePolicy({ ...defaults, secondsPerDay: 2 * 86_400 }, {}, { policy: 'delete-after', deleteAfterDays: 200 }),
      'input deleteAfterDays',
    );
    expect(
      resolvePolicy({ ...defaults, secondsPerDay: 1 }, {}, { policy: 'delete-after', deleteAfterDays: 360 }).policy,
    ).toBe('delete-after');
  });

  it('hex64 is defined once (core/schemas.ts) and imported where certificate ids are checked', () => {
    const defines = ['schemas', 'events', 'retire'].filter((file) =>
      /const hex64\s*=/.test(readFileSync(`functions/core/${file}.ts`, 'utf8')),
    );
    expect(defines).toEqual(['schemas']);
    for (const file of ['events', 'retire'])
      expect(readFileSync(`functions/core/${file}.ts`, 'utf8')).toMatch(
        /import \{[^}]*\bhex64\b[^}]*\} from '\.\/schemas\.ts'/,
      );
    expect(() => parseRetireInput({ certificateId: 'A'.repeat(64) })).toThrow(
      /certificateId: must be 64 lower-case hexadecimal characters/,
    );
  });

  it('compresses the Wait by seconds per day', () => {
    expect(waitSeconds(30, 86_400)).toBe(2_592_000);
    expect(waitSeconds(3, 1)).toBe(3);
    expect(waitSeconds(0.5, 0)).toBe(0);
  });
});

describe('the retired receipt and CA Retired', () => {
  const plan: RetirePlan = {
    proceed: true,
    certificateId: ID,
    certificateArn: `arn:aws:iot:us-east-1:1:cacert/${ID}`,
    bucket: 'ca-bucket',
    reason: 'rotated',
    cause: 'request:r1',
    policy: 'delete-after',
    deleteAfterDays: 2,
    deleteAfterSeconds: 2,
    deleteAfter: '2026-12-07T00:00:00.000Z',
    revokeDevices: true,
    graceSeconds: 0,
    replacedBy: NEW,
    requestId: 'r1',
    source: { bucket: 'ca-bucket', key: 'incoming/a.pem' },
    receiptKey: `results/retired/${ID}.json`,
    claimKey: 'results/retired/claims/x.json',
  };
  const deviceCertificates = countByStatus(['ACTIVE', 'ACTIVE', 'REVOKED', 'INACTIVE']);
  const now = new Date('2026-12-05T00:00:00.000Z');
  const validReceipt = validator('schemas/retired.schema.json');
  const validDetail = validator('schemas/events/ca-retired.schema.json');

  it('counts device certificates by status', () => {
    expect(deviceCertificates).toEqual({ total: 4, byStatus: { ACTIVE: 2, REVOKED: 1, INACTIVE: 1 } });
    expect(countByStatus([])).toEqual({ total: 0, byStatus: {} });
  });

  it('phase retired, then final: deleted, cancelled, revoked; each valid against retired.schema.json', () => {
    const retired = buildRetiredReceipt(
      { phase: 'retired', state: { plan, deviceCertificates }, startedAt: 's' },
      now,
      'exec',
    );
    expect(retired).toMatchObject({
      outcome: 'retired',
      replacedBy: NEW,
      deleteAfter: plan.deleteAfter,
      deviceCertificates,
    });
    expect(retired.revoked).toBeUndefined();
    const revocation = { revoked: 3, remaining: false, listed: 4, refused: 0 };
    const deleted = buildRetiredReceipt(
      {
        phase: 'final',
        state: { plan, deviceCertificates, revocation, deletion: { delete: true, detail: 'd' } },
        startedAt: 's',
      },
      now,
      'exec',
    );
    expect(deleted).toMatchObject({
      outcome: 'deleted',
      deletedAt: now.toISOString(),
      revoked: { count: 3, refused: 0, complete: true },
    });
    const cancelled = buildRetiredReceipt(
      {
        phase: 'final',
        state: { plan, deviceCertificates, deletion: { delete: false, outcome: 'cancelled', detail: 'ACTIVE again' } },
        startedAt: 's',
      },
      now,
      'exec',
    );
    expect(cancelled).toMatchObject({ outcome: 'cancelled', detail: 'ACTIVE again' });
    expect(cancelled.deletedAt).toBeUndefined();
    // DeleteCa refused and the CA not ACTIVE: not a cancellation; the receipt says retired, and why.
    const refused = buildRetiredReceipt(
      {
        phase: 'final',
        state: {
          plan,
          deviceCertificates,
          deletion: { delete: false, outcome: 'retired', detail: 'DeleteCACertificate was refused (...)' },
        },
        startedAt: 's',
      },
      now,
      'exec',
    );
    expect(refused).toMatchObject({ outcome: 'retired', detail: 'DeleteCACertificate was refused (...)' });
    for (const receipt of [retired, deleted, cancelled, refused])
      expect(validReceipt(receipt), JSON.stringify(validReceipt.errors)).toBe(true);
    expect(validReceipt({ ...retired, outcome: 'gone' })).toBe(false);
  });

  it('CA Retired carries the contract detail and the CA ARN as its resource', () => {
    const receipt = buildRetiredReceipt(
      { phase: 'retired', state: { plan, deviceCertificates }, startedAt: 's' },
      now,
      'exec',
    );
    const event = retiredEvent(receipt, plan.receiptKey as string);
    expect(event.detailType).toBe('CA Retired');
    expect(event.resources).toEqual([plan.certificateArn]);
    expect(event.detail).toMatchObject({
      certificateId: ID,
      cause: 'request:r1',
      reason: 'rotated',
      policy: 'delete-after',
      outcome: 'retired',
      replacedBy: NEW,
      receiptKey: `results/retired/${ID}.json`,
      executionId: 'exec',
    });
    expect(validDetail(event.detail), JSON.stringify(validDetail.errors)).toBe(true);
  });
});

describe('the deployment settings', () => {
  const withEnv = async <T>(env: Record<string, string>, read: () => T): Promise<T> => {
    const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
    Object.assign(process.env, env);
    try {
      return read();
    } finally {
      for (const [key, value] of Object.entries(saved))
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
    }
  };

  it('reads the retire params, and names a malformed one', async () => {
    const { readRetireConfig } = await import('../../functions/lambda/config.ts');
    expect(await withEnv({}, readRetireConfig)).toMatchObject({
      policy: 'deactivate',
      deleteAfterDays: 30,
      revokeDevices: false,
      secondsPerDay: 86_400,
      tps: 8,
    });
    expect(
      await withEnv(
        { RETIRE_POLICY: 'delete-after', RETIRE_DELETE_AFTER_DAYS: '7', RETIRE_REVOKE_DEVICES: 'true' },
        readRetireConfig,
      ),
    ).toMatchObject({ policy: 'delete-after', deleteAfterDays: 7, revokeDevices: true });
    await expect(withEnv({ RETIRE_POLICY: 'purge' }, readRetireConfig)).rejects.toThrow(/RETIRE_POLICY/);
  });

  it('reads orphanPolicy deactivate, the value before retire-ca, as retire', async () => {
    const { readReconcileConfig } = await import('../../functions/lambda/config.ts');
    const base = { REGISTER_CA_STATE_MACHINE_ARN: 'arn:register', RETIRE_CA_STATE_MACHINE_ARN: 'arn:retire' };
    for (const [value, policy] of [
      ['report', 'report'],
      ['retire', 'retire'],
      ['deactivate', 'retire'],
    ])
      expect((await withEnv({ ...base, ORPHAN_POLICY: value as string }, readReconcileConfig)).orphanPolicy).toBe(
        policy,
      );
    await expect(withEnv({ ...base, ORPHAN_POLICY: 'delete' }, readReconcileConfig)).rejects.toThrow(/ORPHAN_POLICY/);
  });
});

describe('the retire tags in object metadata', () => {
  it('are the one exception to the pipeline-only iot-ca: prefix, with their values checked at upload', async () => {
    const { parseTags } = await import('../../functions/core/options.ts');
    expect(
      parseTags(
        `${RETIRE_TAGS.policy}=delete-after&${RETIRE_TAGS.deleteAfterDays}=7&${RETIRE_TAGS.revokeDevices}=true`,
        'metadata tags',
      ),
    ).toEqual({
      [RETIRE_TAGS.policy]: 'delete-after',
      [RETIRE_TAGS.deleteAfterDays]: '7',
      [RETIRE_TAGS.revokeDevices]: 'true',
    });
    for (const bad of [
      `${RETIRE_TAGS.policy}=purge`,
      `${RETIRE_TAGS.deleteAfterDays}=-1`,
      `${RETIRE_TAGS.revokeDevices}=yes`,
      'iot-ca:source-key=forged',
    ]) {
      try {
        parseTags(bad, 'metadata tags');
        expect.unreachable();
      } catch (error) {
        expect(isPipelineError(error, 'InvalidOptionsError'), bad).toBe(true);
      }
    }
  });
});

describe('retire-ca.asl.json: a refused DeleteCa', () => {
  it('is checked again by describing the CA, not recorded as "ACTIVE again"', () => {
    type State = {
      Type: string;
      Resource?: string;
      Parameters?: Record<string, string>;
      Result?: { outcome?: string };
      Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
      Next?: string;
    };
    const { States } = JSON.parse(readFileSync('statemachines/retire-ca.asl.json', 'utf8')) as {
      States: Record<string, State>;
    };
    const refusal = States.DeleteCa?.Catch?.find((c) => c.ErrorEquals.includes('Iot.CertificateStateException'));
    expect(refusal).toBeDefined();
    const next = States[refusal!.Next] as State;
    expect(next).toMatchObject({ Type: 'Task', Resource: '${ConfirmDeleteFunctionArn}', Next: 'RecordOutcome' });
    expect(next.Parameters).toMatchObject({
      'refusal.$': refusal!.ResultPath,
      'startedAt.$': '$$.Execution.StartTime',
    });
    // No state claims an outcome it did not observe.
    expect(Object.values(States).filter((state) => state.Type === 'Pass' && state.Result?.outcome)).toEqual([]);
    expect(States.ConfirmDelete?.Parameters).toMatchObject({ 'startedAt.$': '$$.Execution.StartTime' });
  });
});
