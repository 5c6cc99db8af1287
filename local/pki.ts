/**
 * Certificates made at run time (the demo and the tests): no private key is ever committed or
 * written to disk. Keys are cached per shape
 * within a process because RSA generation is slow on a 2-core machine.
 */
import 'reflect-metadata';
import { generateKeyPairSync, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export type KeySpec =
  | { type: 'rsa'; bits: number }
  | { type: 'rsa-pss'; bits: number }
  | { type: 'ec'; curve: 'P-256' | 'P-384' | 'P-521' }
  | { type: 'ed25519' };

export const RSA2048: KeySpec = { type: 'rsa', bits: 2048 };
export const P256: KeySpec = { type: 'ec', curve: 'P-256' };

export interface Pki {
  keys: CryptoKeyPair;
  spec: KeySpec;
  certificate: x509.X509Certificate;
  pem: string;
  subject: string;
}

const HASH_OF: Record<string, string> = { 'P-256': 'SHA-256', 'P-384': 'SHA-384', 'P-521': 'SHA-512' };

const algorithmFor = (spec: KeySpec, hash = 'SHA-256'): RsaHashedKeyGenParams | EcKeyGenParams | Algorithm => {
  switch (spec.type) {
    case 'rsa':
      return { name: 'RSASSA-PKCS1-v1_5', modulusLength: spec.bits, publicExponent: new Uint8Array([1, 0, 1]), hash };
    case 'rsa-pss':
      return { name: 'RSA-PSS', modulusLength: spec.bits, publicExponent: new Uint8Array([1, 0, 1]), hash };
    case 'ec':
      return { name: 'ECDSA', namedCurve: spec.curve };
    case 'ed25519':
      return { name: 'Ed25519' };
  }
};

const keyCache = new Map<string, Promise<CryptoKeyPair>>();

/** A key pair of the given shape; `fresh` forces a new one (for "signed by another key" cases). */
export const keyPair = (spec: KeySpec, hash = 'SHA-256', fresh = false): Promise<CryptoKeyPair> => {
  const id = `${JSON.stringify(spec)}/${hash}`;
  if (!fresh && keyCache.has(id)) return keyCache.get(id) as Promise<CryptoKeyPair>;
  const pair = webcrypto.subtle.generateKey(algorithmFor(spec, hash) as RsaHashedKeyGenParams, true, [
    'sign',
    'verify',
  ]) as Promise<CryptoKeyPair>;
  if (!fresh) keyCache.set(id, pair);
  return pair;
};

const signingAlgorithm = (spec: KeySpec, hash?: string): Algorithm | EcdsaParams => {
  switch (spec.type) {
    case 'rsa':
      return { name: 'RSASSA-PKCS1-v1_5', hash: hash ?? 'SHA-256' } as Algorithm;
    case 'rsa-pss':
      return { name: 'RSA-PSS', hash: hash ?? 'SHA-256', saltLength: 32 } as Algorithm;
    case 'ec':
      return { name: 'ECDSA', hash: hash ?? HASH_OF[spec.curve] } as EcdsaParams;
    case 'ed25519':
      return { name: 'Ed25519' };
  }
};

const DAY = 86_400_000;
let serial = 1;
const nextSerial = (): string => (serial++).toString(16).padStart(4, '0');

export interface CaOptions {
  key?: KeySpec;
  subject?: string;
  /** CA:TRUE (true), CA:FALSE (false), or no basicConstraints at all (null). */
  ca?: boolean | null;
  notBefore?: Date;
  notAfter?: Date;
  /** Signature hash, e.g. 'SHA-1' to make a certificate AWS refuses. */
  hash?: string;
  /** Sign with this issuer instead of self-signing (an intermediate CA). */
  issuer?: Pki;
  /** Use this SPKI (DER) as the subject key instead of the generated one (for curves WebCrypto lacks). */
  publicKeyDer?: Uint8Array;
  fresh?: boolean;
}

export const makeCa = async (options: CaOptions = {}): Promise<Pki> => {
  const spec = options.key ?? RSA2048;
  const keys = await keyPair(
    spec,
    spec.type === 'rsa' || spec.type === 'rsa-pss' ? (options.hash ?? 'SHA-256') : 'SHA-256',
    options.fresh,
  );
  const subject = options.subject ?? `CN=Test CA ${nextSerial()}, O=iot-ca-pipeline tests`;
  const extensions: x509.Extension[] = [];
  if (options.ca !== null) extensions.push(new x509.BasicConstraintsExtension(options.ca ?? true, undefined, true));
  extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true));
  const signer = options.issuer;
  const signerSpec = signer?.spec ?? spec;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject,
    issuer: signer?.subject ?? subject,
    notBefore: options.notBefore ?? new Date(Date.now() - DAY),
    notAfter: options.notAfter ?? new Date(Date.now() + 365 * DAY),
    publicKey: (options.publicKeyDer as Uint8Array<ArrayBuffer> | undefined) ?? keys.publicKey,
    signingKey: signer?.keys.privateKey ?? keys.privateKey,
    signingAlgorithm: signingAlgorithm(signerSpec, options.hash),
    extensions,
  });
  return { keys, spec, certificate, pem: certificate.toString('pem'), subject };
};

export interface LeafOptions {
  notBefore?: Date;
  notAfter?: Date;
  /** Sign with another key than the CA's, keeping the CA's name as issuer. */
  signWith?: CryptoKey;
  key?: KeySpec;
}

/** A verification certificate: subject `name` (normally `CN=<registration code>`), signed by `ca`. */
export const makeLeaf = async (ca: Pki, name: string, options: LeafOptions = {}): Promise<Pki> => {
  const spec = options.key ?? P256;
  const keys = await keyPair(spec);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject: name,
    issuer: ca.subject,
    notBefore: options.notBefore ?? new Date(Date.now() - DAY),
    notAfter: options.notAfter ?? new Date(Date.now() + 30 * DAY),
    publicKey: keys.publicKey,
    signingKey: options.signWith ?? ca.keys.privateKey,
    signingAlgorithm: signingAlgorithm(ca.spec),
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
  });
  return { keys, spec, certificate, pem: certificate.toString('pem'), subject: name };
};

/** An SPKI for a curve WebCrypto cannot generate (secp256k1), via Node's OpenSSL. */
export const foreignSpki = (curve: string): Uint8Array =>
  new Uint8Array(generateKeyPairSync('ec', { namedCurve: curve }).publicKey.export({ format: 'der', type: 'spki' }));

export const privateKeyPem = async (
  pair: CryptoKeyPair,
  format: 'pkcs8' | 'pkcs1' | 'sec1' | 'encrypted' = 'pkcs8',
): Promise<string> => {
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', pair.privateKey));
  const { createPrivateKey } = await import('node:crypto');
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  switch (format) {
    case 'pkcs8':
      return key.export({ format: 'pem', type: 'pkcs8' }).toString();
    case 'pkcs1':
      return key.export({ format: 'pem', type: 'pkcs1' }).toString();
    case 'sec1':
      return key.export({ format: 'pem', type: 'sec1' }).toString();
    case 'encrypted':
      return key.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'test' }).toString();
  }
};

export const REGISTRATION_CODE = `${'a'.repeat(32)}0123456789abcdef0123456789abcdef`;
