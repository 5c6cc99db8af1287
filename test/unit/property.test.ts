/** Random mutations of a valid CA file: the pre-flight checks accept it or raise a named error, nothing else. */
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { inspectCaFile } from '../../functions/core/certificate.ts';
import { ERROR_SPECS, PipelineError } from '../../functions/core/errors.ts';
import { makeCa, makeLeaf, P256, REGISTRATION_CODE } from '../fixtures/pki.ts';

let valid: string;

beforeAll(async () => {
  const ca = await makeCa({ key: P256 });
  valid = `${ca.pem}${(await makeLeaf(ca, `CN=${REGISTRATION_CODE}`)).pem}`;
});

type Mutation =
  | { kind: 'flip'; at: number; char: string }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'truncate'; at: number }
  | { kind: 'duplicate'; from: number; length: number; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    char: fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 80 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom('-----END CERTIFICATE-----', '-----BEGIN CERTIFICATE-----\n', '\r\n', '=', 'PRIVATE KEY'),
    ),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('duplicate' as const),
    from: fc.nat(),
    length: fc.integer({ min: 1, max: 900 }),
    at: fc.nat(),
  }),
);

const apply = (text: string, m: Mutation): string => {
  const at = (n: number) => n % (text.length + 1);
  switch (m.kind) {
    case 'flip':
      return text.slice(0, at(m.at)) + m.char + text.slice(at(m.at) + 1);
    case 'delete':
      return text.slice(0, at(m.at)) + text.slice(at(m.at) + m.length);
    case 'insert':
      return text.slice(0, at(m.at)) + m.text + text.slice(at(m.at));
    case 'truncate':
      return text.slice(0, at(m.at));
    case 'duplicate': {
      const piece = text.slice(at(m.from), at(m.from) + m.length);
      return text.slice(0, at(m.at)) + piece + text.slice(at(m.at));
    }
  }
};

describe('pre-flight under random mutation (fast-check)', () => {
  it('accepts or raises one of the named errors, never anything else', () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        const text = mutations.reduce(apply, valid);
        try {
          const inspection = inspectCaFile(text, new Date());
          expect(inspection.certificateId).toMatch(/^[0-9a-f]{64}$/);
          seen.set('accepted', (seen.get('accepted') ?? 0) + 1);
        } catch (error) {
          expect(error).toBeInstanceOf(PipelineError);
          expect(Object.keys(ERROR_SPECS)).toContain((error as PipelineError).name);
          seen.set((error as PipelineError).name, (seen.get((error as PipelineError).name) ?? 0) + 1);
        }
      }),
      { numRuns: 1500, seed: 20261128 },
    );
    // The mutations reached both sides: some files still pass, several kinds of refusal occur.
    expect(seen.get('accepted') ?? 0).toBeGreaterThan(0);
    expect([...seen.keys()].length).toBeGreaterThanOrEqual(4);
  });
});
