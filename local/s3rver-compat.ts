/**
 * s3rver 3.7 encrypts ListObjectsV2 continuation tokens with single DES, which OpenSSL 3 (every
 * Node since 17) refuses: listing a prefix of more than 1000 keys fails with a 500. The token is
 * opaque and local, so for the 'des' algorithm alone the cipher becomes a pass-through. Nothing
 * else uses DES (it could not: OpenSSL refuses it), and functions/ never loads this module.
 */
import { createRequire } from 'node:module';

const crypto = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
const passThrough = () => ({
  update: (data: string | Buffer, encoding?: BufferEncoding) => (typeof data === 'string' ? Buffer.from(data, encoding) : Buffer.from(data)),
  final: () => Buffer.alloc(0),
});

const patched = Symbol.for('iot-ca.s3rver-des-compat');
const registry = crypto as unknown as Record<symbol, boolean>;
if (!registry[patched]) {
  registry[patched] = true;
  const { createCipheriv, createDecipheriv } = crypto;
  Object.assign(crypto, {
    createCipheriv: (algorithm: string, ...rest: unknown[]) =>
      algorithm === 'des' ? passThrough() : (createCipheriv as (...args: unknown[]) => unknown)(algorithm, ...rest),
    createDecipheriv: (algorithm: string, ...rest: unknown[]) =>
      algorithm === 'des' ? passThrough() : (createDecipheriv as (...args: unknown[]) => unknown)(algorithm, ...rest),
  });
}
export {};
