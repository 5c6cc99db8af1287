/**
 * A certificate authority's key and what it signs: its CSR and the certificates it issues, built
 * with @peculiar/x509 and signed by node:crypto with a KeyObject that never leaves this module's
 * closure (no export, no file). @peculiar/x509 builds the TBS structure and calls `subtle.sign`;
 * the "crypto" handed to it is a two-method shim that signs with the CA's KeyObject.
 */
import 'reflect-metadata';
import { createHash, generateKeyPairSync, type KeyObject, sign, webcrypto } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export const KEY_ALGORITHMS = ['RSA_2048', 'RSA_4096', 'EC_prime256v1', 'EC_secp384r1'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

export const SIGNING_ALGORITHMS = [
  'SHA256WITHECDSA',
  'SHA384WITHECDSA',
  'SHA512WITHECDSA',
  'SHA256WITHRSA',
  'SHA384WITHRSA',
  'SHA512WITHRSA',
] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

const WEB_CURVE: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384' };

/** Whether a signing algorithm suits a key algorithm (RSA with RSA, ECDSA with EC). */
export const compatible = (key: KeyAlgorithm, signing: SigningAlgorithm): boolean =>
  key.startsWith('RSA') === signing.endsWith('WITHRSA');

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bytes. */
export const keyIdentifier = (spki: ArrayBuffer | Buffer): string =>
  createHash('sha1')
    .update(Buffer.from(AsnConvert.parse(spki, SubjectPublicKeyInfo).subjectPublicKey))
    .digest('hex');

export interface Issue {
  serialNumber: string;
  subject: x509.Name;
  issuer: x509.Name;
  publicKey: ArrayBuffer;
  notBefore: Date;
  notAfter: Date;
  extensions: x509.Extension[];
  signing: SigningAlgorithm;
}

/** A CA's signing capability: the public key is readable, the private key only signs. */
export interface CaKey {
  readonly algorithm: KeyAlgorithm;
  /** DER SubjectPublicKeyInfo. */
  readonly spki: ArrayBuffer;
  csr(subject: x509.Name, signing: SigningAlgorithm): Promise<x509.Pkcs10CertificateRequest>;
  certificate(issue: Issue): Promise<x509.X509Certificate>;
}

export const createCaKey = (algorithm: KeyAlgorithm): CaKey => {
  const { privateKey, publicKey } = algorithm.startsWith('RSA')
    ? generateKeyPairSync('rsa', { modulusLength: Number(algorithm.slice(4)) })
    : generateKeyPairSync('ec', { namedCurve: algorithm.slice(3) });
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const spki = der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer;
  const namedCurve = WEB_CURVE[algorithm.slice(3)];
  /** What @peculiar/x509 reads of a "CryptoKey": its algorithm (for the signature's OID and format). */
  const placeholder = {
    algorithm: algorithm.startsWith('RSA') ? { name: 'RSASSA-PKCS1-v1_5' } : { name: 'ECDSA', namedCurve },
  } as CryptoKey;
  const shim = (signing: SigningAlgorithm) =>
    ({
      getRandomValues: <T extends ArrayBufferView>(array: T) => webcrypto.getRandomValues(array as never) as T,
      subtle: {
        exportKey: async () => spki,
        sign: async (_algorithm: unknown, _key: unknown, data: ArrayBuffer) =>
          signWith(privateKey, signing, Buffer.from(data)),
      },
    }) as unknown as Crypto;
  return {
    algorithm,
    spki,
    csr: (subject, signing) =>
      x509.Pkcs10CertificateRequestGenerator.create(
        {
          name: subject,
          keys: { privateKey: placeholder, publicKey: placeholder },
          signingAlgorithm: webSigning(signing),
        },
        shim(signing),
      ),
    certificate: (issue) =>
      x509.X509CertificateGenerator.create(
        {
          serialNumber: issue.serialNumber,
          subject: issue.subject,
          issuer: issue.issuer,
          notBefore: issue.notBefore,
          notAfter: issue.notAfter,
          publicKey: issue.publicKey,
          signingKey: placeholder,
          signingAlgorithm: webSigning(issue.signing),
          extensions: issue.extensions,
        },
        shim(issue.signing),
      ),
  };
};

const hashOf = (signing: SigningAlgorithm) => `sha${signing.slice(3, 6)}`;

const webSigning = (signing: SigningAlgorithm) => ({
  name: signing.endsWith('WITHRSA') ? 'RSASSA-PKCS1-v1_5' : 'ECDSA',
  hash: `SHA-${signing.slice(3, 6)}`,
});

/** WebCrypto's signature format, which @peculiar/x509 converts: PKCS #1 bytes, or ECDSA's r‖s. */
const signWith = (key: KeyObject, signing: SigningAlgorithm, data: Buffer): ArrayBuffer => {
  const signature = sign(hashOf(signing), data, signing.endsWith('WITHRSA') ? key : { key, dsaEncoding: 'ieee-p1363' });
  return signature.buffer.slice(signature.byteOffset, signature.byteOffset + signature.byteLength) as ArrayBuffer;
};

const TEMPLATE_PREFIX = 'arn:aws:acm-pca:::template/';

/** The templates served, and the extensions each puts in a certificate (AWS Private CA User Guide). */
export const TEMPLATES = {
  [`${TEMPLATE_PREFIX}EndEntityCertificate/V1`]: (subjectKeyId: string, issuerKeyId: string) => [
    new x509.BasicConstraintsExtension(false, undefined, false),
    new x509.AuthorityKeyIdentifierExtension(issuerKeyId),
    new x509.SubjectKeyIdentifierExtension(subjectKeyId),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
  ],
  [`${TEMPLATE_PREFIX}RootCACertificate/V1`]: (subjectKeyId: string) => [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.AuthorityKeyIdentifierExtension(subjectKeyId),
    new x509.SubjectKeyIdentifierExtension(subjectKeyId),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
      true,
    ),
  ],
  [`${TEMPLATE_PREFIX}SubordinateCACertificate_PathLen0/V1`]: (subjectKeyId: string, issuerKeyId: string) => [
    new x509.BasicConstraintsExtension(true, 0, true),
    new x509.AuthorityKeyIdentifierExtension(issuerKeyId),
    new x509.SubjectKeyIdentifierExtension(subjectKeyId),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
      true,
    ),
  ],
} as const;

export const ROOT_TEMPLATE = `${TEMPLATE_PREFIX}RootCACertificate/V1`;
export const END_ENTITY_TEMPLATE = `${TEMPLATE_PREFIX}EndEntityCertificate/V1`;
