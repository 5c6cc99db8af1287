import { describe, expect, it } from 'vitest';
import { chooseKmsAlgorithm, choosePcaAlgorithm, parseSigner, resolveSigner } from '../../functions/core/signer.ts';
import { resolveOptions } from '../../functions/core/options.ts';
import { ERROR_SPECS } from '../../functions/core/errors.ts';

const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY_ARN = `arn:aws:kms:eu-west-1:123456789012:key/${KEY_ID}`;
const PCA_ARN = 'arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/11111111-2222-3333-4444-555555555555';
const DEFAULTS = { certificateMode: 'DEFAULT' as const, templateName: 'jitp', tags: {} };

const nameOf = (run: () => unknown): string => {
  try {
    run();
  } catch (error) {
    return (error as Error).name;
  }
  return 'no error';
};

describe('parseSigner', () => {
  it.each([
    [`kms:${KEY_ID}`, { kind: 'kms', keyId: KEY_ID }],
    ['kms:mrk-1234abcd12ab34cd56ef1234567890ab', { kind: 'kms', keyId: 'mrk-1234abcd12ab34cd56ef1234567890ab' }],
    ['kms:alias/iot-ca/root_2026', { kind: 'kms', keyId: 'alias/iot-ca/root_2026' }],
    [`kms:${KEY_ARN}`, { kind: 'kms', keyId: KEY_ARN }],
    ['kms:arn:aws-us-gov:kms:us-gov-west-1:123456789012:alias/root', { kind: 'kms' }],
    [` KMS:${KEY_ID} `, { kind: 'kms', keyId: KEY_ID, value: `kms:${KEY_ID}` }],
    [`pca:${PCA_ARN}`, { kind: 'pca', authorityArn: PCA_ARN, value: `pca:${PCA_ARN}` }],
  ])('accepts %s', (value, expected) => {
    expect(parseSigner(value, 'metadata "signer"')).toMatchObject(expected);
  });

  it.each([
    '',
    'kms',
    'kms:',
    'kms:not-a-key',
    'kms:alias/',
    'kms:alias/aws/acm',
    `kms:${KEY_ARN}/extra`,
    `pca:${KEY_ARN}`,
    'pca:arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/nope',
    `hsm:${KEY_ID}`,
    KEY_ID,
  ])('refuses "%s" with InvalidOptionsError naming the accepted forms', (value) => {
    try {
      parseSigner(value, 'metadata "signer"');
      expect.unreachable();
    } catch (error) {
      expect((error as Error).name).toBe('InvalidOptionsError');
      expect((error as Error).message).toMatch(/metadata "signer"/);
    }
  });

  it('says why an AWS managed key cannot sign', () => {
    expect(() => parseSigner('kms:alias/aws/s3', 'x')).toThrow(/symmetric/);
  });
});

describe('the signer option', () => {
  it('comes from metadata "signer" over the deployment default', () => {
    const fallback = parseSigner(`kms:${KEY_ID}`, 'DEFAULT_SIGNER');
    expect(resolveOptions({ signer: `pca:${PCA_ARN}` }, { ...DEFAULTS, signer: fallback }).signer?.kind).toBe('pca');
    expect(resolveOptions({}, { ...DEFAULTS, signer: fallback }).signer).toEqual(fallback);
    expect(resolveOptions({}, DEFAULTS).signer).toBeUndefined();
  });

  it('refuses a signer in metadata with SNI_ONLY, and ignores the deployment default there', () => {
    expect(nameOf(() => resolveOptions({ 'certificate-mode': 'SNI_ONLY', signer: `kms:${KEY_ID}` }, DEFAULTS))).toBe(
      'InvalidOptionsError',
    );
    const fallback = parseSigner(`kms:${KEY_ID}`, 'DEFAULT_SIGNER');
    expect(
      resolveOptions({ 'certificate-mode': 'SNI_ONLY' }, { ...DEFAULTS, signer: fallback }).signer,
    ).toBeUndefined();
    expect(resolveSigner('', fallback, 'DEFAULT')).toEqual(fallback);
  });

  it('a misspelt key is still refused and the remedy names signer', () => {
    expect(nameOf(() => resolveOptions({ signr: `kms:${KEY_ID}` }, DEFAULTS))).toBe('InvalidOptionsError');
    expect(ERROR_SPECS.InvalidOptionsError.remedy).toContain('signer');
  });
});

describe('chooseKmsAlgorithm', () => {
  const ALL_RSA = [
    'RSASSA_PKCS1_V1_5_SHA_256',
    'RSASSA_PKCS1_V1_5_SHA_384',
    'RSASSA_PKCS1_V1_5_SHA_512',
    'RSASSA_PSS_SHA_256',
    'RSASSA_PSS_SHA_384',
    'RSASSA_PSS_SHA_512',
  ];
  const rsa = (keySpec: string) => ({ keySpec, keyUsage: 'SIGN_VERIFY', signingAlgorithms: ALL_RSA });

  it('follows the CA’s own family and hash for RSA', () => {
    expect(chooseKmsAlgorithm(rsa('RSA_2048'), { signatureOid: '1.2.840.113549.1.1.11' })).toBe(
      'RSASSA_PKCS1_V1_5_SHA_256',
    );
    expect(chooseKmsAlgorithm(rsa('RSA_3072'), { signatureOid: '1.2.840.113549.1.1.12' })).toBe(
      'RSASSA_PKCS1_V1_5_SHA_384',
    );
    expect(
      chooseKmsAlgorithm(rsa('RSA_4096'), {
        signatureOid: '1.2.840.113549.1.1.10',
        pssHashOid: '2.16.840.1.101.3.4.2.3',
      }),
    ).toBe('RSASSA_PSS_SHA_512');
    // A CA the key did not sign itself (an intermediate's issuer used ECDSA): SHA-256 PKCS#1.
    expect(chooseKmsAlgorithm(rsa('RSA_2048'), { signatureOid: '1.2.840.10045.4.3.2' })).toBe(
      'RSASSA_PKCS1_V1_5_SHA_256',
    );
  });

  it('uses the curve’s hash for EC', () => {
    const ec = (keySpec: string, algorithm: string) => ({
      keySpec,
      keyUsage: 'SIGN_VERIFY',
      signingAlgorithms: [algorithm],
    });
    expect(chooseKmsAlgorithm(ec('ECC_NIST_P256', 'ECDSA_SHA_256'), { signatureOid: 'x' })).toBe('ECDSA_SHA_256');
    expect(chooseKmsAlgorithm(ec('ECC_NIST_P384', 'ECDSA_SHA_384'), { signatureOid: 'x' })).toBe('ECDSA_SHA_384');
  });

  it.each([
    [{ keySpec: 'ECC_SECG_P256K1', keyUsage: 'SIGN_VERIFY', signingAlgorithms: ['ECDSA_SHA_256'] }, /ECC_SECG_P256K1/],
    [{ keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT', signingAlgorithms: [] }, /SYMMETRIC_DEFAULT/],
    [{ keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT', signingAlgorithms: [] }, /SIGN_VERIFY/],
    [{ keySpec: 'ML_DSA_44', keyUsage: 'SIGN_VERIFY', signingAlgorithms: ['ML_DSA_SHAKE_256'] }, /ML_DSA_44/],
  ])('refuses %o: UnsupportedSignerKeyError', (key, message) => {
    expect(() => chooseKmsAlgorithm(key, { signatureOid: '1.2.840.113549.1.1.11' })).toThrow(message);
    expect(nameOf(() => chooseKmsAlgorithm(key, { signatureOid: '1.2.840.113549.1.1.11' }))).toBe(
      'UnsupportedSignerKeyError',
    );
  });
});

describe('choosePcaAlgorithm', () => {
  it('signs with the CA key’s own algorithm', () => {
    expect(choosePcaAlgorithm({ type: 'ec', namedCurve: 'prime256v1' })).toBe('SHA256WITHECDSA');
    expect(choosePcaAlgorithm({ type: 'ec', namedCurve: 'secp384r1' })).toBe('SHA384WITHECDSA');
    expect(choosePcaAlgorithm({ type: 'rsa' })).toBe('SHA256WITHRSA');
    expect(nameOf(() => choosePcaAlgorithm({ type: 'ed25519' }))).toBe('UnsupportedSignerKeyError');
  });
});
