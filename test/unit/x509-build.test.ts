import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { RsaSaPssParams } from '@peculiar/asn1-rsa';
import {
  buildCertificate,
  buildCsr,
  KMS_SIGNING_ALGORITHMS,
  keyIdentifierOf,
  type KmsSigningAlgorithm,
  nodeSigner,
  signatureAlgorithmIdentifier,
  spkiOf,
  subjectKeyIdentifierOf,
  subjectNameOf,
} from '../../functions/core/x509-build.ts';
import { checkVerification, inspectCaFile } from '../../functions/core/certificate.ts';

const HOUR = 3_600_000;
const spki = (key: KeyObject): Uint8Array => new Uint8Array(key.export({ type: 'spki', format: 'der' }));

const keyFor = (algorithm: KmsSigningAlgorithm): { privateKey: KeyObject; publicKey: KeyObject } =>
  algorithm.startsWith('ECDSA')
    ? generateKeyPairSync('ec', { namedCurve: algorithm.endsWith('256') ? 'P-256' : 'P-384' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'x509-build-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const openssl = (...args: string[]): string => execFileSync('/usr/bin/openssl', args, { encoding: 'utf8' });

const makeCa = async (algorithm: KmsSigningAlgorithm, now: Date) => {
  const keys = keyFor(algorithm);
  const ca = await buildCertificate(
    {
      issuer: [{ type: 'CN', value: `Test CA ${algorithm}` }],
      subject: [{ type: 'CN', value: `Test CA ${algorithm}` }],
      notBefore: new Date(now.getTime() - HOUR),
      notAfter: new Date(now.getTime() + 365 * 24 * HOUR),
      publicKey: spki(keys.publicKey),
      extensions: {
        basicConstraints: { ca: true },
        keyUsage: ['keyCertSign', 'cRLSign'],
        subjectKeyIdentifier: 'hash',
      },
      signingAlgorithm: algorithm,
    },
    nodeSigner(keys.privateKey, algorithm),
  );
  return { ...ca, keys };
};

describe('buildCertificate', () => {
  it.each(KMS_SIGNING_ALGORITHMS)(
    'makes a CA and a verification certificate openssl verifies (%s)',
    async (algorithm) => {
      const now = new Date();
      const ca = await makeCa(algorithm, now);
      const leafKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const verification = await buildCertificate(
        {
          issuer: subjectNameOf(ca.der),
          subject: [{ type: 'CN', value: 'registration-code-0123456789' }],
          notBefore: new Date(now.getTime() - 60_000),
          notAfter: new Date(now.getTime() + HOUR),
          publicKey: spki(leafKeys.publicKey),
          extensions: {
            basicConstraints: { ca: false },
            keyUsage: ['digitalSignature'],
            subjectKeyIdentifier: 'hash',
            authorityKeyIdentifier: subjectKeyIdentifierOf(ca.der) as Uint8Array,
          },
          signingAlgorithm: algorithm,
        },
        nodeSigner(ca.keys.privateKey, algorithm),
      );
      const caFile = join(dir, `${algorithm}-ca.pem`);
      const leafFile = join(dir, `${algorithm}-verification.pem`);
      writeFileSync(caFile, ca.pem);
      writeFileSync(leafFile, verification.pem);
      expect(openssl('verify', '-CAfile', caFile, leafFile)).toContain(': OK');
      // The pipeline's own checks accept both.
      const inspection = inspectCaFile(ca.pem, now);
      expect(inspection.selfSigned).toBe(true);
      expect(inspection.warnings).toEqual([]);
      const checked = checkVerification(ca.pem, verification.pem, 'registration-code-0123456789', now);
      expect(checked.subject).toBe('CN=registration-code-0123456789');
      const node = new X509Certificate(verification.der);
      expect(node.ca).toBe(false);
      expect(node.issuer).toBe(new X509Certificate(ca.der).subject);
    },
  );

  it('signs the TBS it reports, so a wrong key fails openssl verify', async () => {
    const now = new Date();
    const ca = await makeCa('ECDSA_SHA_256', now);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = await buildCertificate(
      {
        issuer: subjectNameOf(ca.der),
        subject: [{ type: 'CN', value: 'code' }],
        notBefore: new Date(now.getTime() - 60_000),
        notAfter: new Date(now.getTime() + HOUR),
        publicKey: spki(other.publicKey),
        signingAlgorithm: 'ECDSA_SHA_256',
      },
      nodeSigner(other.privateKey, 'ECDSA_SHA_256'),
    );
    expect(new X509Certificate(forged.der).verify(ca.keys.publicKey)).toBe(false);
    const parsed = AsnConvert.parse(forged.der, Certificate);
    expect(new Uint8Array(AsnConvert.serialize(parsed.tbsCertificate))).toEqual(forged.tbsDer);
  });

  it('states RSASSA-PSS parameters in full: hash, MGF1 with the same hash, salt as long as the hash', () => {
    for (const [algorithm, hashOid, salt] of [
      ['RSASSA_PSS_SHA_256', '2.16.840.1.101.3.4.2.1', 32],
      ['RSASSA_PSS_SHA_384', '2.16.840.1.101.3.4.2.2', 48],
      ['RSASSA_PSS_SHA_512', '2.16.840.1.101.3.4.2.3', 64],
    ] as const) {
      const identifier = signatureAlgorithmIdentifier(algorithm);
      expect(identifier.algorithm).toBe('1.2.840.113549.1.1.10');
      const params = AsnConvert.parse(identifier.parameters as ArrayBuffer, RsaSaPssParams);
      expect(params.hashAlgorithm.algorithm).toBe(hashOid);
      expect(params.maskGenAlgorithm.algorithm).toBe('1.2.840.113549.1.1.8');
      expect(params.saltLength).toBe(salt);
    }
    expect(signatureAlgorithmIdentifier('ECDSA_SHA_384').parameters).toBeUndefined();
    expect(signatureAlgorithmIdentifier('RSASSA_PKCS1_V1_5_SHA_512').algorithm).toBe('1.2.840.113549.1.1.13');
  });

  it('reads what a child needs from its issuer: subject, SPKI, key identifier', async () => {
    const ca = await makeCa('ECDSA_SHA_384', new Date());
    expect(spkiOf(ca.der)).toEqual(spki(ca.keys.publicKey));
    expect(subjectKeyIdentifierOf(ca.der)).toEqual(keyIdentifierOf(spki(ca.keys.publicKey)));
    expect(new X509Certificate(ca.der).subject).toBe('CN=Test CA ECDSA_SHA_384');
    expect(subjectNameOf(ca.der).length).toBeGreaterThan(10);
  });

  it('refuses a validity that ends before it starts and a negative serial', async () => {
    const keys = keyFor('ECDSA_SHA_256');
    const base = {
      issuer: [{ type: 'CN', value: 'x' }],
      subject: [{ type: 'CN', value: 'x' }],
      publicKey: spki(keys.publicKey),
      signingAlgorithm: 'ECDSA_SHA_256' as const,
    };
    const sign = nodeSigner(keys.privateKey, 'ECDSA_SHA_256');
    await expect(buildCertificate({ ...base, notBefore: new Date(2), notAfter: new Date(1) }, sign)).rejects.toThrow(
      /notBefore/,
    );
    await expect(
      buildCertificate(
        { ...base, notBefore: new Date(1), notAfter: new Date(2), serialNumber: new Uint8Array([0x80, 1]) },
        sign,
      ),
    ).rejects.toThrow(/serialNumber/);
  });
});

describe('buildCsr', () => {
  it.each(['ECDSA_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PSS_SHA_384'] as const)(
    'makes a request openssl verifies (%s)',
    async (algorithm) => {
      const keys = keyFor(algorithm);
      const csr = await buildCsr(
        { subject: [{ type: 'CN', value: 'the-code' }], publicKey: spki(keys.publicKey), signingAlgorithm: algorithm },
        nodeSigner(keys.privateKey, algorithm),
      );
      const file = join(dir, `${algorithm}.csr`);
      writeFileSync(file, csr.pem);
      const out = execFileSync('/usr/bin/openssl', ['req', '-in', file, '-verify', '-noout', '-subject'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      expect(out).toMatch(/subject=\s*CN\s*=\s*the-code/);
      const parsed = AsnConvert.parse(csr.der, CertificationRequest);
      expect(parsed.signatureAlgorithm.algorithm).toBe(signatureAlgorithmIdentifier(algorithm).algorithm);
    },
  );
});
