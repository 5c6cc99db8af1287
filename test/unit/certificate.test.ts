import { beforeAll, describe, expect, it } from 'vitest';
import { createHash, X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate as AsnCertificate } from '@peculiar/asn1-x509';
import {
  checkVerification,
  inspectCaFile,
  nameAttributes,
  parseCertificate,
  readVerificationFile,
} from '../../functions/core/certificate.ts';
import { MAX_PEM_CHARS, parsePemBlocks, type PemBlock } from '../../functions/core/pem.ts';
import { PipelineError } from '../../functions/core/errors.ts';
import {
  foreignSpki,
  keyPair,
  makeCa,
  makeLeaf,
  P256,
  privateKeyPem,
  REGISTRATION_CODE,
  RSA2048,
  type Pki,
} from '../fixtures/pki.ts';

const DAY = 86_400_000;

const errorName = (run: () => unknown): string => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PipelineError);
    return (error as PipelineError).name;
  }
  throw new Error('expected a named error, got none');
};

let rsaCa: Pki;
let ecCa: Pki;

beforeAll(async () => {
  rsaCa = await makeCa({ key: RSA2048 });
  ecCa = await makeCa({ key: P256 });
});

describe('inspectCaFile: what is accepted', () => {
  it('accepts an RSA-2048 root CA and computes the certificateId as the SHA-256 of its DER', () => {
    const inspection = inspectCaFile(rsaCa.pem);
    const der = new X509Certificate(rsaCa.pem).raw;
    expect(inspection.certificateId).toBe(createHash('sha256').update(der).digest('hex'));
    expect(inspection.key).toBe('RSA-2048');
    expect(inspection.signatureAlgorithm).toBe('sha256WithRSAEncryption');
    expect(inspection.selfSigned).toBe(true);
    expect(inspection.warnings).toEqual([]);
    expect(inspection.verificationPem).toBeUndefined();
  });

  it.each([
    ['RSA-3072', { type: 'rsa', bits: 3072 } as const, 'RSA-3072'],
    ['RSA-4096', { type: 'rsa', bits: 4096 } as const, 'RSA-4096'],
    ['P-256', { type: 'ec', curve: 'P-256' } as const, 'EC-P-256'],
    ['P-384', { type: 'ec', curve: 'P-384' } as const, 'EC-P-384'],
  ])('accepts a %s CA', async (_label, key, expected) => {
    const ca = await makeCa({ key });
    expect(inspectCaFile(ca.pem).key).toBe(expected);
  });

  it('accepts RSASSA-PSS signatures over SHA-256/384/512, as AWS names them', async () => {
    for (const hash of ['SHA-256', 'SHA-384', 'SHA-512']) {
      const ca = await makeCa({ key: { type: 'rsa-pss', bits: 2048 }, hash, fresh: true });
      expect(inspectCaFile(ca.pem).signatureAlgorithm).toBe(`RSASSA-PSS with ${hash}`);
    }
  });

  it('refuses RSASSA-PSS over SHA-1 (found by the differential referee)', async () => {
    const ca = await makeCa({ key: { type: 'rsa-pss', bits: 2048 }, hash: 'SHA-1', fresh: true });
    expect(() => inspectCaFile(ca.pem)).toThrow(/RSASSA-PSS over SHA-1/);
  });

  it('accepts P-521 with a warning, since AWS does not document it', async () => {
    const ca = await makeCa({ key: { type: 'ec', curve: 'P-521' } });
    const inspection = inspectCaFile(ca.pem);
    expect(inspection.key).toBe('EC-P-521');
    expect(inspection.warnings.join()).toMatch(/P-521/);
  });

  it('accepts CRLF line ends, a UTF-8 BOM and trailing blank lines', () => {
    const messy = `\uFEFF${rsaCa.pem.replace(/\n/g, '\r\n')}\r\n\r\n\n`;
    expect(inspectCaFile(messy).certificateId).toBe(inspectCaFile(rsaCa.pem).certificateId);
  });

  it('accepts an intermediate CA (not self-signed)', async () => {
    const intermediate = await makeCa({ key: P256, issuer: rsaCa });
    const inspection = inspectCaFile(intermediate.pem);
    expect(inspection.selfSigned).toBe(false);
    expect(inspection.issuer).toContain('Test CA');
  });

  it('warns about a CA that expires within 30 days', async () => {
    const ca = await makeCa({ notAfter: new Date(Date.now() + 10 * DAY) });
    const inspection = inspectCaFile(ca.pem);
    expect(inspection.warnings.join()).toMatch(/expires in (9|10) days/);
  });

  it('finds the verification certificate after the CA in the same file', async () => {
    const verification = await makeLeaf(rsaCa, `CN=${REGISTRATION_CODE}`);
    const inspection = inspectCaFile(`${rsaCa.pem}\n${verification.pem}`);
    expect(inspection.certificateId).toBe(inspectCaFile(rsaCa.pem).certificateId);
    expect(inspection.verificationPem).toBe(readVerificationFile(verification.pem));
  });

  it('takes the CA from the file whichever order the two certificates are in', async () => {
    const verification = await makeLeaf(rsaCa, `CN=${REGISTRATION_CODE}`);
    const inspection = inspectCaFile(`${verification.pem}${rsaCa.pem}`);
    expect(inspection.certificateId).toBe(inspectCaFile(rsaCa.pem).certificateId);
  });
});

describe('inspectCaFile: what is refused, by name', () => {
  it('refuses an empty or blank file as NotPemError', () => {
    expect(errorName(() => inspectCaFile(''))).toBe('NotPemError');
    expect(errorName(() => inspectCaFile(' \n\t\n'))).toBe('NotPemError');
  });

  it('refuses JSON, random text and bare base64 as NotPemError', () => {
    expect(errorName(() => inspectCaFile('{"certificate": "x"}'))).toBe('NotPemError');
    expect(errorName(() => inspectCaFile(Buffer.from(new X509Certificate(rsaCa.pem).raw).toString('base64')))).toBe(
      'NotPemError',
    );
  });

  it('refuses DER with a hint to convert it', () => {
    const der = Buffer.from(new X509Certificate(rsaCa.pem).raw).toString('latin1');
    expect(() => inspectCaFile(der)).toThrow(/DER/);
  });

  it('refuses a PEM without its END line as MalformedPemError', () => {
    const truncated = rsaCa.pem.split('-----END')[0] as string;
    expect(errorName(() => inspectCaFile(truncated))).toBe('MalformedPemError');
  });

  it('refuses a truncated certificate body as MalformedPemError', () => {
    const lines = rsaCa.pem.trim().split('\n');
    const cut = [...lines.slice(0, 6), lines.at(-1)].join('\n');
    expect(errorName(() => inspectCaFile(cut))).toBe('MalformedPemError');
  });

  it('refuses a public key alone as NotACertificateError', async () => {
    const spki = Buffer.from(await crypto.subtle.exportKey('spki', rsaCa.keys.publicKey)).toString('base64');
    expect(() => inspectCaFile(`-----BEGIN PUBLIC KEY-----\n${spki}\n-----END PUBLIC KEY-----\n`)).toThrow(
      /a public key/,
    );
  });

  it.each([
    ['PKCS8', 'pkcs8'],
    ['PKCS1', 'pkcs1'],
    ['encrypted PKCS8', 'encrypted'],
  ] as const)('refuses a %s private key and never quotes it', async (_label, format) => {
    const keyPem = await privateKeyPem(rsaCa.keys, format);
    for (const text of [keyPem, `${rsaCa.pem}${keyPem}`, `${keyPem}${rsaCa.pem}`]) {
      try {
        inspectCaFile(text);
        expect.unreachable();
      } catch (error) {
        expect((error as Error).name).toBe('PrivateKeyMaterialError');
        const body = keyPem.split('\n')[1] as string;
        expect((error as Error).message).not.toContain(body.slice(0, 20));
      }
    }
  });

  it('refuses an EC (SEC1) private key', async () => {
    expect(
      errorName(() => inspectCaFile('-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n')),
    ).toBe('PrivateKeyMaterialError');
    const sec1 = await privateKeyPem(ecCa.keys, 'sec1');
    expect(errorName(() => inspectCaFile(sec1))).toBe('PrivateKeyMaterialError');
  });

  it('refuses a leaf certificate (CA:FALSE) and one with no basicConstraints as NotACaError', async () => {
    const leaf = await makeCa({ ca: false });
    const bare = await makeCa({ ca: null });
    expect(errorName(() => inspectCaFile(leaf.pem))).toBe('NotACaError');
    expect(errorName(() => inspectCaFile(bare.pem))).toBe('NotACaError');
  });

  it('refuses two CAs in one file as AmbiguousCaError', async () => {
    expect(errorName(() => inspectCaFile(`${rsaCa.pem}${ecCa.pem}`))).toBe('AmbiguousCaError');
  });

  it('refuses a CA with two more certificates as TooManyCertificatesError', async () => {
    const a = await makeLeaf(rsaCa, 'CN=a');
    const b = await makeLeaf(rsaCa, 'CN=b');
    expect(errorName(() => inspectCaFile(`${rsaCa.pem}${a.pem}${b.pem}`))).toBe('TooManyCertificatesError');
  });

  it('refuses an expired CA and a CA not yet valid', async () => {
    const expired = await makeCa({ notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) });
    const future = await makeCa({ notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 400 * DAY) });
    expect(errorName(() => inspectCaFile(expired.pem))).toBe('CertificateExpiredError');
    expect(errorName(() => inspectCaFile(future.pem))).toBe('CertificateNotYetValidError');
  });

  it('judges validity against the clock it is given', () => {
    const inspection = inspectCaFile(rsaCa.pem);
    expect(errorName(() => inspectCaFile(rsaCa.pem, new Date(Date.parse(inspection.notAfter) + DAY)))).toBe(
      'CertificateExpiredError',
    );
  });

  it.each([1024, 2047])('refuses an RSA-%i key as UnsupportedKeyError', async (bits) => {
    const ca = await makeCa({ key: { type: 'rsa', bits } });
    expect(() => inspectCaFile(ca.pem)).toThrow(new RegExp(`${bits}-bit RSA`));
    expect(errorName(() => inspectCaFile(ca.pem))).toBe('UnsupportedKeyError');
  });

  it('refuses a secp256k1 key and an Ed25519 key as UnsupportedKeyError', async () => {
    const k1 = await makeCa({ key: P256, publicKeyDer: foreignSpki('secp256k1'), subject: 'CN=k1' });
    expect(() => inspectCaFile(k1.pem)).toThrow(/secp256k1/);
    const ed = await makeCa({ key: { type: 'ed25519' } });
    expect(errorName(() => inspectCaFile(ed.pem))).toBe('UnsupportedKeyError');
  });

  it('refuses a SHA-1 signature as UnsupportedSignatureAlgorithmError', async () => {
    const sha1 = await makeCa({ key: RSA2048, hash: 'SHA-1' });
    expect(() => inspectCaFile(sha1.pem)).toThrow(/sha1WithRSAEncryption/);
    expect(errorName(() => inspectCaFile(sha1.pem))).toBe('UnsupportedSignatureAlgorithmError');
  });

  it('refuses a file over 65536 characters as ObjectTooLargeError', () => {
    const padded = `${rsaCa.pem}${'\n'.repeat(MAX_PEM_CHARS)}`;
    expect(errorName(() => inspectCaFile(padded))).toBe('ObjectTooLargeError');
  });
});

describe('checkVerification: proof of possession', () => {
  it('passes a verification certificate whose CN is the code and that the CA signed', async () => {
    for (const ca of [rsaCa, ecCa]) {
      const verification = await makeLeaf(ca, `CN=${REGISTRATION_CODE}`);
      expect(checkVerification(ca.pem, verification.pem, REGISTRATION_CODE).subject).toBe(`CN=${REGISTRATION_CODE}`);
    }
  });

  it('refuses a CN that is not the registration code, or only a prefix of it', async () => {
    for (const cn of ['CN=device-1', `CN=${REGISTRATION_CODE.slice(0, 32)}`]) {
      const verification = await makeLeaf(rsaCa, cn);
      expect(errorName(() => checkVerification(rsaCa.pem, verification.pem, REGISTRATION_CODE))).toBe(
        'RegistrationCodeMismatchError',
      );
    }
  });

  it('refuses several CNs even when one is the code: the CN is the code (found by the referee)', async () => {
    const verification = await makeLeaf(rsaCa, `CN=${REGISTRATION_CODE}, CN=device`);
    expect(() => checkVerification(rsaCa.pem, verification.pem, REGISTRATION_CODE)).toThrow(/exactly one CN/);
  });

  it('says so when the code is in another attribute than CN', async () => {
    const verification = await makeLeaf(rsaCa, `CN=device, O=${REGISTRATION_CODE}`);
    expect(() => checkVerification(rsaCa.pem, verification.pem, REGISTRATION_CODE)).toThrow(
      /in the O attribute; it must be the CN/,
    );
  });

  it('refuses a verification certificate signed by another key, even with the CA as issuer name', async () => {
    const other = await keyPair(RSA2048, 'SHA-256', true);
    const forged = await makeLeaf(rsaCa, `CN=${REGISTRATION_CODE}`, { signWith: other.privateKey });
    expect(errorName(() => checkVerification(rsaCa.pem, forged.pem, REGISTRATION_CODE))).toBe(
      'VerificationSignatureError',
    );
  });

  it('refuses an expired or not yet valid verification certificate', async () => {
    const expired = await makeLeaf(rsaCa, `CN=${REGISTRATION_CODE}`, {
      notBefore: new Date(Date.now() - 10 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    const future = await makeLeaf(rsaCa, `CN=${REGISTRATION_CODE}`, { notBefore: new Date(Date.now() + DAY) });
    expect(errorName(() => checkVerification(rsaCa.pem, expired.pem, REGISTRATION_CODE))).toBe(
      'VerificationCertificateExpiredError',
    );
    expect(errorName(() => checkVerification(rsaCa.pem, future.pem, REGISTRATION_CODE))).toBe(
      'VerificationCertificateNotYetValidError',
    );
  });
});

// The certificate is read by Node's X509Certificate (OpenSSL); these pin what is derived from it
// against an independent parser (@peculiar/x509, which the test PKI is built with).
describe('parseCertificate: names and algorithms', () => {
  it('reads the outer signature algorithm of every kind the tests can make, as @peculiar/x509 does', async () => {
    const cases = await Promise.all([
      makeCa({ key: RSA2048, hash: 'SHA-384' }),
      makeCa({ key: RSA2048, hash: 'SHA-512' }),
      makeCa({ key: RSA2048, hash: 'SHA-1' }),
      makeCa({ key: { type: 'rsa', bits: 4096 } }),
      makeCa({ key: { type: 'rsa-pss', bits: 2048 } }),
      makeCa({ key: { type: 'ec', curve: 'P-384' } }),
      makeCa({ key: { type: 'ec', curve: 'P-521' } }),
      makeCa({ key: { type: 'ed25519' } }),
      makeCa({ key: P256, subject: `CN=long, O=${'x'.repeat(1_000)}` }),
    ]);
    for (const ca of cases) {
      const [block] = parsePemBlocks(ca.pem);
      const expected = AsnConvert.parse(new Uint8Array(ca.certificate.rawData), AsnCertificate).signatureAlgorithm
        .algorithm;
      expect(parseCertificate(block as PemBlock).signatureOid).toBe(expected);
    }
  });

  it('turns RFC 2253 escapes back into the values, and keeps the order of the name', async () => {
    const ca = await makeCa({ subject: 'CN=Acme\\, Inc. Root+OU=Ops, O=Q\\"uote\\;semi\\<gt\\>, C=CH, ST=Zürich' });
    const parsed = parseCertificate(parsePemBlocks(ca.pem)[0] as PemBlock);
    expect(parsed.subjectAttributes).toEqual([
      { name: 'CN', value: 'Acme, Inc. Root' },
      { name: 'OU', value: 'Ops' },
      { name: 'O', value: 'Q"uote;semi<gt>' },
      { name: 'C', value: 'CH' },
      { name: 'ST', value: 'Zürich' },
    ]);
    expect(parsed.subject).toBe('CN=Acme, Inc. Root, OU=Ops, O=Q"uote;semi<gt>, C=CH, ST=Zürich');
    expect(parsed.issuer).toBe(parsed.subject);
    expect(nameAttributes('CN=a\\0Ab\\C3\\A9\\\\')).toEqual([{ name: 'CN', value: 'a\nbé\\' }]);
  });

  it('finds the registration code in a multi-valued RDN', async () => {
    const verification = await makeLeaf(rsaCa, `CN=${REGISTRATION_CODE}+OU=devices`);
    expect(checkVerification(rsaCa.pem, verification.pem, REGISTRATION_CODE).subject).toBe(
      `CN=${REGISTRATION_CODE}, OU=devices`,
    );
  });
});
