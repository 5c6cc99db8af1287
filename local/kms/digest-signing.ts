/**
 * Signing a digest the caller already computed (KMS `MessageType: DIGEST`), which node:crypto
 * cannot do for ECDSA or RSA-PSS: its `sign` always hashes what it is given. This module holds the
 * digest types and RSA: PKCS #1 v1.5 and PSS pad here (RFC 8017) and use node:crypto's raw RSA.
 * ECDSA, computed over the curve (FIPS 186-4) with a fresh random nonce per signature as KMS does,
 * is in ecdsa.ts and re-exported here. Not constant-time: an emulator's keys protect nothing.
 */
import {
  constants,
  createHash,
  type KeyObject,
  privateEncrypt,
  publicDecrypt,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

export type Hash = 'sha256' | 'sha384' | 'sha512';

export const HASH_BYTES: Record<Hash, number> = { sha256: 32, sha384: 48, sha512: 64 };

// ---- RSA -----------------------------------------------------------------------------------

/** DER DigestInfo prefixes of RFC 8017 §9.2 note 1. */
const DIGEST_INFO: Record<Hash, string> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

export const pkcs1Sign = (key: KeyObject, hash: Hash, digest: Buffer): Buffer =>
  privateEncrypt(
    { key, padding: constants.RSA_PKCS1_PADDING },
    Buffer.concat([Buffer.from(DIGEST_INFO[hash], 'hex'), digest]),
  );

export const pkcs1Verify = (key: KeyObject, hash: Hash, digest: Buffer, signature: Buffer): boolean => {
  try {
    const expected = Buffer.concat([Buffer.from(DIGEST_INFO[hash], 'hex'), digest]);
    const recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
    return recovered.length === expected.length && timingSafeEqual(recovered, expected);
  } catch {
    return false;
  }
};

const mgf1 = (hash: Hash, seed: Buffer, length: number): Buffer => {
  const blocks: Buffer[] = [];
  for (let counter = 0; blocks.length * HASH_BYTES[hash] < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    blocks.push(createHash(hash).update(seed).update(c).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
};

const modulusBits = (key: KeyObject): number => key.asymmetricKeyDetails?.modulusLength ?? 0;

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with the salt as long as the hash, as KMS signs. */
export const pssSign = (key: KeyObject, hash: Hash, digest: Buffer): Buffer => {
  const bits = modulusBits(key);
  const hLen = HASH_BYTES[hash];
  const emBits = bits - 1;
  const emLen = Math.ceil(emBits / 8);
  const salt = randomBytes(hLen);
  const h = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLen - hLen - hLen - 2), Buffer.from([1]), salt]);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i] = (db[i] as number) ^ (mask[i] as number);
  db[0] = (db[0] as number) & (0xff >> (8 * emLen - emBits));
  const em = Buffer.concat([db, h, Buffer.from([0xbc])]);
  const k = Math.ceil(bits / 8);
  return privateEncrypt({ key, padding: constants.RSA_NO_PADDING }, Buffer.concat([Buffer.alloc(k - em.length), em]));
};

/** EMSA-PSS-VERIFY (RFC 8017 §9.1.2), salt length = hash length. */
export const pssVerify = (key: KeyObject, hash: Hash, digest: Buffer, signature: Buffer): boolean => {
  const bits = modulusBits(key);
  const hLen = HASH_BYTES[hash];
  const emBits = bits - 1;
  const emLen = Math.ceil(emBits / 8);
  let decoded: Buffer;
  try {
    decoded = publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, signature);
  } catch {
    return false;
  }
  const em = decoded.subarray(decoded.length - emLen);
  if (decoded.subarray(0, decoded.length - emLen).some((byte) => byte !== 0)) return false;
  if (em[emLen - 1] !== 0xbc) return false;
  const db = Buffer.from(em.subarray(0, emLen - hLen - 1));
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  if (((db[0] as number) & ~(0xff >> (8 * emLen - emBits)) & 0xff) !== 0) return false;
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i] = (db[i] as number) ^ (mask[i] as number);
  db[0] = (db[0] as number) & (0xff >> (8 * emLen - emBits));
  const separator = emLen - hLen - hLen - 2;
  if (db.subarray(0, separator).some((byte) => byte !== 0) || db[separator] !== 1) return false;
  const salt = db.subarray(separator + 1);
  const expected = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  return timingSafeEqual(expected, h);
};

export { CURVES, derSignature, ecdsaSign, ecdsaVerify, parseDerSignature, publicPoint } from './ecdsa.ts';
