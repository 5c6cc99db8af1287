/**
 * Certificates for the differential test, made at run time from a small pool of keys (RSA key
 * generation is slow; a key is bound to its hash in WebCrypto, so the pool holds one per hash):
 * the certificate cases of the bad-input corpus (test/reliability/bad-input.test.ts), and the
 * pieces fast-check combines.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { keyPair, type KeySpec, privateKeyPem } from '../fixtures/pki.ts';

export const DAY = 86_400_000;

/** What would go to AWS, and how the operator would have uploaded it. */
export interface Submission {
  name: string;
  /** The uploaded CA object (for the pipeline) and caCertificate (for the emulator). */
  ca: string;
  /** The verification certificate: after the CA in the same file, or as its own object. */
  verification?: string;
  placement: 'same-file' | 'sibling';
  mode: 'DEFAULT' | 'SNI_ONLY';
}

export type Hash = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';
export type Validity = 'valid' | 'expired' | 'not-yet-valid' | 'expiring-soon';
export type Name = string | x509.JsonName | Array<Record<string, Array<Record<string, string>>>>;

export interface Issued {
  pem: string;
  subject: Name;
  keys: CryptoKeyPair;
  spec: KeySpec;
  hash: Hash;
}

export const RSA_SPECS: Record<string, KeySpec> = {
  'RSA-1024': { type: 'rsa', bits: 1024 },
  'RSA-2047': { type: 'rsa', bits: 2047 },
  'RSA-2048': { type: 'rsa', bits: 2048 },
  'RSA-PSS-2048': { type: 'rsa-pss', bits: 2048 },
};
export const EC_SPECS: Record<string, KeySpec> = {
  'P-256': { type: 'ec', curve: 'P-256' },
  'P-384': { type: 'ec', curve: 'P-384' },
  'P-521': { type: 'ec', curve: 'P-521' },
  Ed25519: { type: 'ed25519' },
};
export const HASHES: Hash[] = ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'];

/** Weak RSA keys are only ever made with SHA-256: two fewer slow keys, nothing lost. */
export const hashFor = (spec: KeySpec, hash: Hash): Hash =>
  spec.type === 'rsa' && spec.bits < 2048 ? 'SHA-256' : hash;

/** The key of `spec` for `hash` from the pool; `other` is a second key of the same shape. */
const pool = new Map<string, Promise<CryptoKeyPair>>();
export const poolKey = (spec: KeySpec, hash: Hash, other = false): Promise<CryptoKeyPair> => {
  const id = `${JSON.stringify(spec)}/${hash}/${other}`;
  if (!pool.has(id)) pool.set(id, keyPair(spec, hash, true));
  return pool.get(id) as Promise<CryptoKeyPair>;
};

export const fillPool = async (): Promise<void> => {
  const rsa = Object.values(RSA_SPECS).flatMap((spec) =>
    [...new Set(HASHES.map((hash) => hashFor(spec, hash)))].map((hash) => poolKey(spec, hash)),
  );
  const ec = Object.values(EC_SPECS).map((spec) => poolKey(spec, 'SHA-256'));
  const others = [RSA_SPECS['RSA-2048'], RSA_SPECS['RSA-PSS-2048'], ...Object.values(EC_SPECS)].map((spec) =>
    poolKey(spec as KeySpec, 'SHA-256', true),
  );
  await Promise.all([...rsa, ...ec, ...others]);
};

const signingAlgorithm = (spec: KeySpec, hash: Hash): Algorithm => {
  switch (spec.type) {
    case 'rsa':
      return { name: 'RSASSA-PKCS1-v1_5', hash } as Algorithm;
    case 'rsa-pss':
      return { name: 'RSA-PSS', hash, saltLength: 32 } as Algorithm;
    case 'ec':
      return { name: 'ECDSA', hash } as Algorithm;
    case 'ed25519':
      return { name: 'Ed25519' };
  }
};

/** A window relative to `now`. */
export const windowOf = (validity: Validity, now: Date): { notBefore: Date; notAfter: Date } => {
  const t = now.getTime();
  switch (validity) {
    case 'valid':
      return { notBefore: new Date(t - DAY), notAfter: new Date(t + 365 * DAY) };
    case 'expired':
      return { notBefore: new Date(t - 400 * DAY), notAfter: new Date(t - DAY) };
    case 'not-yet-valid':
      return { notBefore: new Date(t + DAY), notAfter: new Date(t + 400 * DAY) };
    case 'expiring-soon':
      return { notBefore: new Date(t - DAY), notAfter: new Date(t + 10 * DAY) };
  }
};

let serial = 0x1000;

export interface IssueOptions {
  spec: KeySpec;
  hash: Hash;
  subject: Name;
  validity: Validity;
  now: Date;
  /** CA:TRUE, CA:FALSE, or no basicConstraints (null). */
  ca: boolean | null;
  /** Signed by this certificate's key instead of its own (an intermediate, or a verification certificate). */
  issuer?: Issued;
  /** Signed by a second key of the issuer's shape, the issuer's name kept (a forgery). */
  forged?: boolean;
}

export const issue = async (options: IssueOptions): Promise<Issued> => {
  const hash = hashFor(options.spec, options.hash);
  const keys = await poolKey(options.spec, hash);
  const signer = options.issuer;
  const signingKeys = signer ? await poolKey(signer.spec, signer.hash, options.forged) : keys;
  const extensions: x509.Extension[] = [];
  if (options.ca !== null) extensions.push(new x509.BasicConstraintsExtension(options.ca, undefined, true));
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16),
    subject: options.subject as x509.JsonName,
    issuer: (signer?.subject ?? options.subject) as x509.JsonName,
    ...windowOf(options.validity, options.now),
    publicKey: keys.publicKey,
    signingKey: signingKeys.privateKey,
    signingAlgorithm: signingAlgorithm(signer?.spec ?? options.spec, signer?.hash ?? hash),
    extensions,
  });
  return { pem: certificate.toString('pem'), subject: options.subject, keys, spec: options.spec, hash };
};

export { privateKeyPem };
