/**
 * ECDSA over a digest the caller already computed (KMS `MessageType: DIGEST`), which node:crypto
 * cannot sign: the curves KMS serves (SEC 2 / FIPS 186-4 domain parameters), point arithmetic in
 * Jacobian coordinates with BigInt, signing with a fresh random nonce per signature as KMS does,
 * and the DER ECDSA-Sig-Value KMS returns. Re-exported by digest-signing.ts. Not constant-time:
 * an emulator's keys protect nothing.
 */
import { type KeyObject, randomBytes } from 'node:crypto';

interface Curve {
  p: bigint;
  a: bigint;
  b: bigint;
  n: bigint;
  gx: bigint;
  gy: bigint;
}

const hex = (text: string): bigint => BigInt(`0x${text.replace(/\s+/g, '')}`);

/** SEC 2 / FIPS 186-4 domain parameters, by the curve names node:crypto reports. */
export const CURVES: Record<string, Curve> = {
  prime256v1: {
    p: hex('ffffffff00000001000000000000000000000000ffffffffffffffffffffffff'),
    a: hex('ffffffff00000001000000000000000000000000fffffffffffffffffffffffc'),
    b: hex('5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b'),
    n: hex('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'),
    gx: hex('6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296'),
    gy: hex('4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5'),
  },
  secp384r1: {
    p: hex('fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff'),
    a: hex('fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffc'),
    b: hex('b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef'),
    n: hex('ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973'),
    gx: hex('aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7'),
    gy: hex('3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f'),
  },
  secp521r1: {
    p: (1n << 521n) - 1n,
    a: (1n << 521n) - 4n,
    b: hex(`0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573
      df883d2c34f1ef451fd46b503f00`),
    n: hex(`01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8
      899c47aebb6fb71e91386409`),
    gx: hex(`00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3
      c1856a429bf97e7e31c2e5bd66`),
    gy: hex(`011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c70
      86a272c24088be94769fd16650`),
  },
  secp256k1: {
    p: hex('fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f'),
    a: 0n,
    b: 7n,
    n: hex('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141'),
    gx: hex('79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798'),
    gy: hex('483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8'),
  },
};

const mod = (a: bigint, m: bigint): bigint => {
  const r = a % m;
  return r < 0n ? r + m : r;
};

const invert = (a: bigint, m: bigint): bigint => {
  let [low, high] = [mod(a, m), m];
  let [lm, hm] = [1n, 0n];
  while (low > 1n) {
    const ratio = high / low;
    [lm, hm] = [hm - lm * ratio, lm];
    [low, high] = [high - low * ratio, low];
  }
  return mod(lm, m);
};

/** A point in Jacobian coordinates (X/Z², Y/Z³); Z = 0 is the point at infinity. */
type Point = [bigint, bigint, bigint];

const double = (c: Curve, [x, y, z]: Point): Point => {
  if (y === 0n || z === 0n) return [0n, 1n, 0n];
  const { p } = c;
  const yy = mod(y * y, p);
  const s = mod(4n * x * yy, p);
  const zz = mod(z * z, p);
  const m = mod(3n * x * x + c.a * zz * zz, p);
  const nx = mod(m * m - 2n * s, p);
  return [nx, mod(m * (s - nx) - 8n * yy * yy, p), mod(2n * y * z, p)];
};

const add = (c: Curve, a: Point, b: Point): Point => {
  if (a[2] === 0n) return b;
  if (b[2] === 0n) return a;
  const { p } = c;
  const z1z1 = mod(a[2] * a[2], p);
  const z2z2 = mod(b[2] * b[2], p);
  const u1 = mod(a[0] * z2z2, p);
  const u2 = mod(b[0] * z1z1, p);
  const s1 = mod(a[1] * b[2] * z2z2, p);
  const s2 = mod(b[1] * a[2] * z1z1, p);
  if (u1 === u2) return s1 === s2 ? double(c, a) : [0n, 1n, 0n];
  const h = u2 - u1;
  const r = s2 - s1;
  const hh = mod(h * h, p);
  const hhh = mod(h * hh, p);
  const v = mod(u1 * hh, p);
  const nx = mod(r * r - hhh - 2n * v, p);
  return [nx, mod(r * (v - nx) - s1 * hhh, p), mod(a[2] * b[2] * h, p)];
};

const multiply = (c: Curve, point: Point, k: bigint): Point => {
  let result: Point = [0n, 1n, 0n];
  for (let bit = BigInt(k.toString(2).length - 1); bit >= 0n; bit--) {
    result = double(c, result);
    if ((k >> bit) & 1n) result = add(c, result, point);
  }
  return result;
};

const affineX = (c: Curve, [x, , z]: Point): bigint => mod(x * invert(mod(z * z, c.p), c.p), c.p);

const bitLength = (n: bigint) => n.toString(2).length;

/** The digest as an integer, cut to the group order's length (FIPS 186-4 §6.4). */
const truncate = (c: Curve, digest: Buffer): bigint => {
  const e = BigInt(`0x${digest.toString('hex') || '0'}`);
  const excess = digest.length * 8 - bitLength(c.n);
  return excess > 0 ? e >> BigInt(excess) : e;
};

const fromBase64Url = (text: string | undefined): bigint =>
  BigInt(`0x${Buffer.from(text ?? '', 'base64url').toString('hex')}`);

const curveOf = (key: KeyObject): Curve => {
  const curve = CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
  if (!curve) throw new Error(`No ECDSA over curve ${key.asymmetricKeyDetails?.namedCurve}`);
  return curve;
};

/** A DER INTEGER (positive). */
const derInteger = (value: bigint): Buffer => {
  let bytes = Buffer.from(value.toString(16).padStart(2 * Math.ceil(value.toString(16).length / 2), '0'), 'hex');
  if ((bytes[0] as number) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02]), derLength(bytes.length), bytes]);
};

const derLength = (length: number): Buffer => (length < 0x80 ? Buffer.from([length]) : Buffer.from([0x81, length]));

/** ECDSA-Sig-Value (RFC 3279 §2.2.3): SEQUENCE { r INTEGER, s INTEGER }, as KMS returns it. */
export const derSignature = (r: bigint, s: bigint): Buffer => {
  const body = Buffer.concat([derInteger(r), derInteger(s)]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
};

/** r and s of a DER ECDSA signature, or undefined when it is not one. */
export const parseDerSignature = (signature: Buffer): [bigint, bigint] | undefined => {
  let offset = 0;
  const readLength = (): number => {
    const first = signature[offset++] ?? 0;
    if (first < 0x80) return first;
    if (first === 0x81) return signature[offset++] ?? 0;
    return -1;
  };
  if (signature[offset++] !== 0x30) return undefined;
  if (readLength() !== signature.length - offset) return undefined;
  const integers: bigint[] = [];
  for (let i = 0; i < 2; i++) {
    if (signature[offset++] !== 0x02) return undefined;
    const length = readLength();
    if (length <= 0 || offset + length > signature.length) return undefined;
    integers.push(BigInt(`0x${signature.subarray(offset, offset + length).toString('hex')}`));
    offset += length;
  }
  return offset === signature.length ? (integers as [bigint, bigint]) : undefined;
};

export const ecdsaSign = (key: KeyObject, digest: Buffer): Buffer => {
  const c = curveOf(key);
  const d = fromBase64Url(key.export({ format: 'jwk' }).d);
  const e = truncate(c, digest);
  const size = Math.ceil(bitLength(c.n) / 8) + 8;
  for (;;) {
    // A nonce with 64 extra bits, reduced: bias below 2^-64.
    const k = mod(BigInt(`0x${randomBytes(size).toString('hex')}`), c.n - 1n) + 1n;
    const r = mod(affineX(c, multiply(c, [c.gx, c.gy, 1n], k)), c.n);
    if (r === 0n) continue;
    const s = mod(invert(k, c.n) * (e + r * d), c.n);
    if (s !== 0n) return derSignature(r, s);
  }
};

export const ecdsaVerify = (key: KeyObject, digest: Buffer, signature: Buffer): boolean => {
  const c = curveOf(key);
  const parsed = parseDerSignature(signature);
  if (!parsed) return false;
  const [r, s] = parsed;
  if (r <= 0n || r >= c.n || s <= 0n || s >= c.n) return false;
  const jwk = key.export({ format: 'jwk' });
  const q: Point = [fromBase64Url(jwk.x), fromBase64Url(jwk.y), 1n];
  const w = invert(s, c.n);
  const point = add(
    c,
    multiply(c, [c.gx, c.gy, 1n], mod(truncate(c, digest) * w, c.n)),
    multiply(c, q, mod(r * w, c.n)),
  );
  return point[2] !== 0n && mod(affineX(c, point), c.n) === r;
};

/** The public point d·G in affine coordinates (tests check the domain parameters with it). */
export const publicPoint = (curveName: string, d: bigint): [bigint, bigint] => {
  const c = CURVES[curveName] as Curve;
  const [x, y, z] = multiply(c, [c.gx, c.gy, 1n], d);
  const zInv = invert(z, c.p);
  const zz = mod(zInv * zInv, c.p);
  return [mod(x * zz, c.p), mod(y * zz * zInv, c.p)];
};
