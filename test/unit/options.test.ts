import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  desiredTags,
  formatTags,
  parseTags,
  PROVENANCE_TAGS,
  resolveOptions,
  type Defaults,
} from '../../functions/core/options.ts';
import {
  caKeysForVerification,
  isCaKey,
  keyCandidates,
  parseStartInput,
  resultKeyFor,
  verificationKeyFor,
} from '../../functions/core/source.ts';

const defaults: Defaults = { certificateMode: 'DEFAULT', templateName: 'fleet-jitp', tags: { team: 'platform' } };

describe('resolveOptions: object metadata over deployment defaults', () => {
  it('uses the defaults when the object has no metadata', () => {
    expect(resolveOptions({}, defaults)).toEqual({
      certificateMode: 'DEFAULT',
      templateName: 'fleet-jitp',
      tags: { team: 'platform' },
    });
  });

  it('lets metadata choose the mode and template and merges its tags over the default tags', () => {
    const options = resolveOptions(
      { 'certificate-mode': 'sni_only', 'template-name': 'other_tpl', tags: 'team=devices&env=prod%2Btest' },
      defaults,
    );
    expect(options).toEqual({
      certificateMode: 'SNI_ONLY',
      templateName: 'other_tpl',
      tags: { team: 'devices', env: 'prod+test' },
    });
  });

  it('refuses a misspelt metadata key instead of silently using the default', () => {
    expect(() => resolveOptions({ 'certificate-mod': 'SNI_ONLY' }, defaults)).toThrow(
      /Unknown object metadata "certificate-mod"/,
    );
  });

  it.each([
    [{ 'certificate-mode': 'FAST' }, /expected DEFAULT or SNI_ONLY/],
    [{ 'template-name': 'has space' }, /not a provisioning template name/],
    [{ 'template-name': 'x'.repeat(37) }, /not a provisioning template name/],
    [{ tags: 'novalue' }, /is not k=v/],
    [{ tags: 'a=1&a=2' }, /given twice/],
    [{ tags: 'aws:owner=me' }, /reserved by AWS/],
    [{ tags: 'iot-ca:source-key=x' }, /pipeline's own/],
    [{ tags: `k=${'v'.repeat(257)}` }, /longer than 256/],
    [{ tags: 'k=%E0%A4%A' }, /URL-encoded/],
    [{ tags: 'k=semi;colon' }, /characters AWS does not accept/],
  ])('refuses invalid metadata %j as InvalidOptionsError', (metadata, message) => {
    expect(() => resolveOptions(metadata, defaults)).toThrow(message);
    try {
      resolveOptions(metadata, defaults);
    } catch (error) {
      expect((error as Error).name).toBe('InvalidOptionsError');
    }
  });

  it('round-trips tags through formatTags and parseTags', () => {
    const tags = { 'cost center': '42', note: 'a=b+c@d' };
    expect(parseTags(formatTags(tags), 'test')).toEqual(tags);
  });
});

describe('desiredTags: provenance', () => {
  it('adds the source bucket, key and fingerprint', () => {
    const tags = desiredTags({ team: 'x' }, { bucket: 'b-1', key: 'incoming/ca.pem' }, 'f'.repeat(64));
    expect(tags).toEqual({
      team: 'x',
      [PROVENANCE_TAGS.bucket]: 'b-1',
      [PROVENANCE_TAGS.key]: 'incoming/ca.pem',
      [PROVENANCE_TAGS.fingerprint]: 'f'.repeat(64),
    });
  });

  it('stands a hash in for a key that cannot be a tag value', () => {
    const tags = desiredTags({}, { bucket: 'b-1', key: `incoming/${'x'.repeat(300)}.pem` }, 'f'.repeat(64));
    expect(tags[PROVENANCE_TAGS.key]).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('refuses more tags than AWS IoT allows per CA once provenance is added', () => {
    const many = Object.fromEntries(Array.from({ length: 48 }, (_, i) => [`k${i}`, 'v']));
    expect(() => desiredTags(many, { bucket: 'b-1', key: 'k.pem' }, 'f')).toThrow(/exceed AWS IoT's 50 tags/);
  });
});

describe('parseStartInput: the two ways a flow starts', () => {
  it('takes the manual contract {bucket, key}', () => {
    expect(parseStartInput({ bucket: 'ca-bucket', key: 'incoming/a.pem' })).toEqual({
      bucket: 'ca-bucket',
      key: 'incoming/a.pem',
    });
  });

  it('takes an S3 Object Created event, keeping the version id and the ETag', () => {
    const event = {
      source: 'aws.s3',
      'detail-type': 'Object Created',
      detail: {
        bucket: { name: 'ca-bucket' },
        object: { key: 'incoming/a.pem', size: 1200, etag: '"abc123"', 'version-id': 'v1' },
      },
    };
    expect(parseStartInput(event)).toEqual({
      bucket: 'ca-bucket',
      key: 'incoming/a.pem',
      versionId: 'v1',
      etag: 'abc123',
    });
  });

  it.each([
    [null],
    [[1, 2]],
    ['incoming/a.pem'],
    [{ bucket: 'ca-bucket' }],
    [{ key: 'a.pem' }],
    [{ bucket: 'Not_A_Bucket', key: 'a.pem' }],
    [{ bucket: 'ca-bucket', key: 'a.pem', extra: 1 }],
    [{ source: 'aws.s3', 'detail-type': 'Object Deleted', detail: {} }],
  ])('refuses %j as InvalidInputError', (input) => {
    expect(() => parseStartInput(input)).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
  });
});

describe('object naming', () => {
  it('pairs a CA with its verification sibling both ways', () => {
    expect(verificationKeyFor('incoming/ca.pem')).toBe('incoming/ca.verification.pem');
    expect(verificationKeyFor('incoming/ca.crt')).toBe('incoming/ca.verification.pem');
    expect(caKeysForVerification('incoming/ca.verification.pem')).toEqual([
      'incoming/ca.pem',
      'incoming/ca.crt',
      'incoming/ca.PEM',
      'incoming/ca.CRT',
    ]);
    expect(verificationKeyFor('incoming/CA.PEM')).toBe('incoming/CA.verification.pem');
  });

  it('takes .pem and .crt in either case as CA files, never a verification sibling', () => {
    expect(['a.pem', 'a.crt', 'A.PEM', 'A.CRT'].map(isCaKey)).toEqual([true, true, true, true]);
    expect(['a.txt', 'a.pem.bak', 'a.verification.pem', 'a.Verification.PEM'].map(isCaKey)).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });

  it('looks an event key up as written, then URL-decoded as S3 notifications encode it', () => {
    expect(keyCandidates('incoming/my+ca.pem')).toEqual(['incoming/my+ca.pem', 'incoming/my ca.pem']);
    expect(keyCandidates('incoming/a%2Bb%3D1%25.pem')).toEqual(['incoming/a%2Bb%3D1%25.pem', 'incoming/a+b=1%.pem']);
    expect(keyCandidates('incoming/%C3%A9t%C3%A9.pem')).toEqual(['incoming/%C3%A9t%C3%A9.pem', 'incoming/été.pem']);
    expect(keyCandidates('incoming/plain.pem')).toEqual(['incoming/plain.pem']);
    // A lone % is not URL-encoding: only the key as written.
    expect(keyCandidates('incoming/100%.pem')).toEqual(['incoming/100%.pem']);
  });

  it('names the result after the source key under the results prefix', () => {
    expect(resultKeyFor('incoming/ca.pem', 'results/')).toBe('results/incoming/ca.pem.json');
  });
});

describe('events/: the sample inputs of every trigger', () => {
  const sample = (name: string): unknown => JSON.parse(readFileSync(`events/${name}`, 'utf8'));

  it('resolves the S3 event, the sibling event and both manual inputs to an object', () => {
    expect(parseStartInput(sample('s3-object-created.json'))).toMatchObject({
      key: 'incoming/factory-ca.pem',
      versionId: expect.any(String),
    });
    expect(parseStartInput(sample('verification-uploaded.json'))).toMatchObject({
      key: 'incoming/factory-ca.verification.pem',
    });
    expect(parseStartInput(sample('manual-execution.json'))).toEqual({
      bucket: 'iot-ca-pipeline-dev-cabucket',
      key: 'incoming/factory-ca.pem',
    });
    expect(parseStartInput(sample('manual-execution-version.json'))).toMatchObject({ versionId: expect.any(String) });
  });

  it('refuses the invalid sample (capitalised field names) by name', () => {
    expect(() => parseStartInput(sample('invalid-input.json'))).toThrow(
      /Unrecognized keys: "Bucket", "Key"; expected \{"bucket": "...", "key": "..."\}/,
    );
  });
});
