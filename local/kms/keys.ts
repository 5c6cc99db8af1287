/**
 * KMS key specs and signing algorithms as AWS defines them (Key Management Service Developer
 * Guide, "Asymmetric key specs"), and the key material behind each key: node:crypto KeyObjects
 * held in memory, never exported except as the public key.
 */
import { constants, createHash, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { frontEndError } from '../json11.ts';
import { kmsError } from './errors.ts';
import {
  ecdsaSign,
  ecdsaVerify,
  HASH_BYTES,
  type Hash,
  pkcs1Sign,
  pkcs1Verify,
  pssSign,
  pssVerify,
} from './digest-signing.ts';

/** Every KeySpec the API takes (its enum), served or not. */
export const KEY_SPECS = [
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECC_NIST_P256',
  'ECC_NIST_P384',
  'ECC_NIST_P521',
  'ECC_SECG_P256K1',
  'ECC_NIST_EDWARDS25519',
  'SYMMETRIC_DEFAULT',
  'HMAC_224',
  'HMAC_256',
  'HMAC_384',
  'HMAC_512',
  'SM2',
  'ML_DSA_44',
  'ML_DSA_65',
  'ML_DSA_87',
  'ML_KEM_512',
  'ML_KEM_768',
  'ML_KEM_1024',
] as const;
export type KeySpec = (typeof KEY_SPECS)[number];

export const KEY_USAGES = [
  'ENCRYPT_DECRYPT',
  'SIGN_VERIFY',
  'GENERATE_VERIFY_MAC',
  'KEY_AGREEMENT',
  'ENCAPSULATE_DECAPSULATE',
] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

export const SIGNING_ALGORITHMS = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256',
  'ECDSA_SHA_384',
  'ECDSA_SHA_512',
  'ED25519_SHA_512',
  'ED25519_PH_SHA_512',
  'ML_DSA_SHAKE_256',
  'SM2DSA',
] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export const MESSAGE_TYPES = ['RAW', 'DIGEST', 'EXTERNAL_MU'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** The key usages AWS accepts for each spec (CreateKey answers ValidationException otherwise). */
const USAGES: Record<KeySpec, readonly KeyUsage[]> = {
  RSA_2048: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  RSA_3072: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  RSA_4096: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  ECC_NIST_P256: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  ECC_NIST_P384: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  ECC_NIST_P521: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  ECC_SECG_P256K1: ['SIGN_VERIFY'],
  ECC_NIST_EDWARDS25519: ['SIGN_VERIFY'],
  SYMMETRIC_DEFAULT: ['ENCRYPT_DECRYPT'],
  HMAC_224: ['GENERATE_VERIFY_MAC'],
  HMAC_256: ['GENERATE_VERIFY_MAC'],
  HMAC_384: ['GENERATE_VERIFY_MAC'],
  HMAC_512: ['GENERATE_VERIFY_MAC'],
  SM2: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'KEY_AGREEMENT'],
  ML_DSA_44: ['SIGN_VERIFY'],
  ML_DSA_65: ['SIGN_VERIFY'],
  ML_DSA_87: ['SIGN_VERIFY'],
  ML_KEM_512: ['ENCAPSULATE_DECAPSULATE'],
  ML_KEM_768: ['ENCAPSULATE_DECAPSULATE'],
  ML_KEM_1024: ['ENCAPSULATE_DECAPSULATE'],
};

const RSA_SIGNING: readonly SigningAlgorithm[] = [
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
];

interface Generator {
  /** node:crypto's generateKeyPairSync arguments; undefined for a symmetric key. */
  generate?: () => { privateKey: KeyObject; publicKey: KeyObject };
  signing: readonly SigningAlgorithm[];
}

const rsa = (modulusLength: number): Generator => ({
  generate: () => generateKeyPairSync('rsa', { modulusLength }),
  signing: RSA_SIGNING,
});
const ec = (namedCurve: string, algorithm: SigningAlgorithm): Generator => ({
  generate: () => generateKeyPairSync('ec', { namedCurve }),
  signing: [algorithm],
});

/** The specs this emulator makes keys of; the others are refused with UnsupportedOperationException. */
const SERVED: Partial<Record<KeySpec, Generator>> = {
  RSA_2048: rsa(2048),
  RSA_3072: rsa(3072),
  RSA_4096: rsa(4096),
  ECC_NIST_P256: ec('prime256v1', 'ECDSA_SHA_256'),
  ECC_NIST_P384: ec('secp384r1', 'ECDSA_SHA_384'),
  ECC_NIST_P521: ec('secp521r1', 'ECDSA_SHA_512'),
  ECC_SECG_P256K1: ec('secp256k1', 'ECDSA_SHA_256'),
  // Made so that a key of the wrong usage can be named; no operation here uses its material.
  SYMMETRIC_DEFAULT: { signing: [] },
};

/** The usages the emulator serves; KEY_AGREEMENT and the rest are refused. */
const SERVED_USAGES: readonly KeyUsage[] = ['SIGN_VERIFY', 'ENCRYPT_DECRYPT'];

export const SERVED_KEY_SPECS = Object.keys(SERVED) as KeySpec[];

/** Key material: the private key never leaves this object (no getter, no toJSON, no file). */
export class KeyMaterial {
  readonly #privateKey: KeyObject | undefined;
  readonly publicKey: KeyObject | undefined;
  readonly signingAlgorithms: readonly SigningAlgorithm[];

  private constructor(
    readonly spec: KeySpec,
    readonly usage: KeyUsage,
    pair: { privateKey: KeyObject; publicKey: KeyObject } | undefined,
    signing: readonly SigningAlgorithm[],
  ) {
    this.#privateKey = pair?.privateKey;
    this.publicKey = pair?.publicKey;
    this.signingAlgorithms = usage === 'SIGN_VERIFY' ? signing : [];
  }

  /** New key material, or the error AWS answers for the spec and usage. */
  static create(spec: KeySpec, usage: KeyUsage): KeyMaterial {
    if (!USAGES[spec].includes(usage))
      throw frontEndError('ValidationException', `KeyUsage ${usage} is not compatible with KeySpec ${spec}`);
    const generator = SERVED[spec];
    if (!generator || !SERVED_USAGES.includes(usage))
      throw kmsError(
        'UnsupportedOperationException',
        `The local KMS does not make ${spec} keys for ${usage}; it makes ${SERVED_KEY_SPECS.filter((s) => s !== 'SYMMETRIC_DEFAULT').join(', ')} keys for SIGN_VERIFY.`,
      );
    return new KeyMaterial(spec, usage, generator.generate?.(), generator.signing);
  }

  toJSON(): unknown {
    return { spec: this.spec, usage: this.usage };
  }

  /** The public key as KMS returns it: DER SubjectPublicKeyInfo. */
  publicKeyDer(): Buffer | undefined {
    return this.publicKey?.export({ type: 'spki', format: 'der' });
  }

  sign(algorithm: SigningAlgorithm, message: Buffer, messageType: MessageType): Buffer {
    const { hash, family } = parseAlgorithm(algorithm);
    const key = this.#privateKey as KeyObject;
    if (messageType === 'RAW') {
      if (family === 'ECDSA') return sign(hash, message, { key, dsaEncoding: 'der' });
      if (family === 'PKCS1') return sign(hash, message, { key, padding: constants.RSA_PKCS1_PADDING });
      return sign(hash, message, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      });
    }
    if (family === 'ECDSA') return ecdsaSign(key, message);
    if (family === 'PKCS1') return pkcs1Sign(key, hash, message);
    return pssSign(key, hash, message);
  }

  verify(algorithm: SigningAlgorithm, message: Buffer, messageType: MessageType, signature: Buffer): boolean {
    const { hash, family } = parseAlgorithm(algorithm);
    const key = this.publicKey as KeyObject;
    if (messageType === 'RAW') {
      try {
        if (family === 'ECDSA') return verify(hash, message, { key, dsaEncoding: 'der' }, signature);
        if (family === 'PKCS1') return verify(hash, message, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
        return verify(
          hash,
          message,
          { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
          signature,
        );
      } catch {
        return false;
      }
    }
    if (family === 'ECDSA') return ecdsaVerify(key, message, signature);
    if (family === 'PKCS1') return pkcs1Verify(key, hash, message, signature);
    return pssVerify(key, hash, message, signature);
  }
}

export const parseAlgorithm = (algorithm: SigningAlgorithm): { hash: Hash; family: 'ECDSA' | 'PKCS1' | 'PSS' } => {
  const hash = `sha${algorithm.slice(-3)}` as Hash;
  const family = algorithm.startsWith('ECDSA') ? 'ECDSA' : algorithm.startsWith('RSASSA_PSS') ? 'PSS' : 'PKCS1';
  return { hash, family };
};

/** A DIGEST message must be as long as the algorithm's hash (AWS: ValidationException). */
export const messageProblem = (
  algorithm: SigningAlgorithm,
  message: Buffer,
  messageType: MessageType,
): string | undefined => {
  const expected = HASH_BYTES[parseAlgorithm(algorithm).hash];
  return messageType === 'DIGEST' && message.length !== expected
    ? `Digest is invalid length for algorithm ${algorithm}: ${message.length} bytes given, ${expected} expected.`
    : undefined;
};

/** SHA-2 of a message, as a caller computes a DIGEST (tests). */
export const digestOf = (algorithm: SigningAlgorithm, message: Buffer): Buffer =>
  createHash(parseAlgorithm(algorithm).hash).update(message).digest();
