/**
 * The emulator's per-operation error table against AWS's API model, as @aws-sdk/client-iot carries
 * it: each command's `@throws {@link XxxException}` lines, read from its .d.ts at test time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IotEmulator, IotError } from '../../local/iot/emulator.ts';
import { ERROR_STATUS } from '../../local/iot/errors.ts';
import { FRONT_END_ERRORS, OPERATION_ERRORS, type Operation } from '../../local/iot/operations.ts';
import { sdkModelErrors } from '../fixtures/sdk-model.ts';

const listedFor = sdkModelErrors('@aws-sdk/client-iot', 'IoTServiceException');

/** Each table entry the model does not list, as `Operation: Error`. */
const unlisted = (table: Readonly<Record<string, readonly string[]>>): string[] =>
  Object.entries(table).flatMap(([operation, errors]) => {
    const listed = listedFor(operation as Operation);
    return errors.filter((name) => !listed.includes(name)).map((name) => `${operation}: ${name}`);
  });

const operations = Object.keys(OPERATION_ERRORS) as Operation[];

describe('the per-operation error table', () => {
  it('lists only errors AWS’s model gives each operation', () => {
    expect(unlisted(OPERATION_ERRORS)).toEqual([]);
  });

  it('catches a planted entry the model does not list (ServiceUnavailableException on TagResource)', () => {
    const planted = {
      ...OPERATION_ERRORS,
      TagResource: [...OPERATION_ERRORS.TagResource, 'ServiceUnavailableException'],
    };
    expect(unlisted(planted)).toEqual(['TagResource: ServiceUnavailableException']);
  });

  it('reads the model: TagResource lists LimitExceededException and no 503, RegisterCACertificate lists both', () => {
    expect(listedFor('TagResource')).toContain('LimitExceededException');
    expect(listedFor('TagResource')).not.toContain('ServiceUnavailableException');
    expect(listedFor('RegisterCACertificate')).toEqual(
      expect.arrayContaining(['ServiceUnavailableException', 'RegistrationCodeValidationException']),
    );
  });

  it('covers the data plane’s operations as their models give them: no 503 from DescribeEndpoint', () => {
    for (const operation of [
      'DescribeCertificate',
      'ListCertificatesByCA',
      'UpdateCertificate',
      'RegisterCertificate',
      'DescribeThing',
      'ListThingPrincipals',
      'GetPolicy',
      'ListAttachedPolicies',
      'DescribeEndpoint',
      'RegisterThing',
    ] as const)
      expect(OPERATION_ERRORS[operation], operation).toContain('ThrottlingException');
    expect(listedFor('DescribeEndpoint')).not.toContain('ServiceUnavailableException');
    expect(OPERATION_ERRORS.DescribeEndpoint).not.toContain('ServiceUnavailableException');
    expect(listedFor('UpdateCertificate')).toContain('CertificateStateException');
    expect(OPERATION_ERRORS.UpdateCertificate).toContain('CertificateStateException');
  });

  it('gives every error a status and keeps front-end errors out of every operation’s model', () => {
    for (const errors of Object.values(OPERATION_ERRORS))
      for (const name of errors) expect(ERROR_STATUS[name], name).toBeGreaterThanOrEqual(400);
    for (const operation of operations)
      for (const name of FRONT_END_ERRORS) expect(listedFor(operation), operation).not.toContain(name);
  });
});

describe('injected faults', () => {
  it('answer each operation only with a throttle or a 5xx its model lists', () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'iot-error-model-'));
    try {
      let dice = 0;
      // Cycles through the whole range, so both 5xx are picked wherever both are listed.
      const emulator = new IotEmulator({ stateDir, random: () => (dice++ % 10) / 10 });
      for (const faults of [{ faultRate: 1 }, { throttleRate: 1 }]) {
        emulator.faults = faults;
        for (const operation of operations) {
          const seen = new Set<string>();
          for (let i = 0; i < 20; i++) {
            try {
              emulator.admit(operation);
            } catch (error) {
              expect(error).toBeInstanceOf(IotError);
              seen.add((error as IotError).name);
            }
          }
          expect(seen.size, operation).toBeGreaterThan(0);
          for (const name of seen) expect(listedFor(operation), `${operation} answered ${name}`).toContain(name);
        }
      }
      emulator.faults = { faultRate: 1 };
      const tagFaults = new Set<string>();
      for (let i = 0; i < 20; i++) {
        try {
          emulator.admit('TagResource');
        } catch (error) {
          tagFaults.add((error as IotError).name);
        }
      }
      expect([...tagFaults]).toEqual(['InternalFailureException']);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
