import { PipelineError } from './errors.ts';

/** AWS IoT's limit on `caCertificate`; we apply it to the whole object. */
export const MAX_PEM_CHARS = 65536;

export interface PemBlock {
  label: string;
  der: Uint8Array;
}

const BEGIN = /-----BEGIN ([A-Z0-9 #-]+?)-----/g;
const PRIVATE_KEY_LABEL =
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----|PuTTY-User-Key-File-|-----BEGIN OPENSSH PRIVATE KEY-----/;
const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * True when the text holds anything that looks like private-key material. Checked on the raw
 * text first, before any parsing can fail and echo something back.
 */
export const containsPrivateKey = (text: string): boolean => PRIVATE_KEY_LABEL.test(text);

/** Formatting people really produce: a UTF-8 BOM, CRLF line ends, trailing blank lines. */
export const normalizeText = (text: string): string => text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');

// biome-ignore lint/suspicious/noControlCharactersInRegex: DER's first bytes are control characters; that is the test.
const BINARY = /[\u0000-\u0008\u0080-\uFFFF]/;
const looksLikeDer = (text: string): boolean => text.charCodeAt(0) === 0x30 && BINARY.test(text.slice(0, 8));

/**
 * The DER of OID 1.2.840.113549.1.7.2 (PKCS#7 signedData), what a `.p7b` bundle starts with; its
 * bytes over 0x7F read as themselves (latin1) or as U+FFFD (the file decoded as UTF-8).
 */
const PKCS7_SIGNED_DATA_OID =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the OID's DER bytes, control characters included.
  /\u0006\u0009\u002a[\u0086\uFFFD]\u0048[\u0086\uFFFD][\u00f7\uFFFD]\u000d\u0001\u0007\u0002/;

/** What binary DER holds, as far as its first bytes tell; undefined when the text is not DER. */
export const derKind = (raw: string): 'pkcs7' | 'der' | undefined => {
  if (!looksLikeDer(raw)) return undefined;
  return PKCS7_SIGNED_DATA_OID.test(raw.slice(0, 40)) ? 'pkcs7' : 'der';
};

/**
 * Splits PEM text into its blocks. Text around the blocks (openssl's `subject=` lines, comments)
 * is ignored, as openssl does; a block that does not close or whose body is not base64 is
 * malformed. Private keys are refused before anything else.
 */
export const parsePemBlocks = (raw: string): PemBlock[] => {
  if (raw.length > MAX_PEM_CHARS) {
    throw new PipelineError(
      'ObjectTooLargeError',
      `The file has ${raw.length} characters; the limit is ${MAX_PEM_CHARS}.`,
    );
  }
  if (containsPrivateKey(raw)) {
    throw new PipelineError(
      'PrivateKeyMaterialError',
      'The file contains private-key material; it was refused and not stored anywhere.',
    );
  }
  const text = normalizeText(raw);
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(BEGIN)) {
    const label = match[1] as string;
    const bodyStart = (match.index ?? 0) + match[0].length;
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, bodyStart);
    const nextBegin = text.indexOf('-----BEGIN ', bodyStart);
    if (end < 0 || (nextBegin >= 0 && nextBegin < end)) {
      throw new PipelineError(
        'MalformedPemError',
        `The "${label}" PEM block has no matching END line (the file may be truncated).`,
      );
    }
    const lines = text
      .slice(bodyStart, end)
      .split('\n')
      .map((line) => line.trim());
    // RFC 1421 headers (Proc-Type, DEK-Info) only occur in encrypted keys, already refused above.
    const body = lines.join('');
    if (body.length === 0 || !BASE64_BODY.test(body) || body.length % 4 === 1) {
      throw new PipelineError('MalformedPemError', `The "${label}" PEM block's body is not valid base64.`);
    }
    blocks.push({ label, der: new Uint8Array(Buffer.from(body, 'base64')) });
  }
  if (blocks.length === 0) {
    if (text.trim().length === 0) throw new PipelineError('NotPemError', 'The file is empty.');
    const der = derKind(raw);
    if (der === 'pkcs7') {
      throw new PipelineError(
        'NotPemError',
        'The file looks like a binary DER PKCS#7 bundle (.p7b), not PEM; extract its certificates: openssl pkcs7 -inform der -print_certs -in <file> -out ca.pem',
      );
    }
    if (der) {
      throw new PipelineError('NotPemError', 'The file looks like binary DER, not PEM; convert it to PEM first.');
    }
    throw new PipelineError('NotPemError', 'The file holds no PEM block (-----BEGIN CERTIFICATE-----).');
  }
  return blocks;
};

/** A certificate as AWS IoT wants it: one PEM block, 64-character lines, LF endings. */
export const toPem = (der: Uint8Array, label = 'CERTIFICATE'): string => {
  const base64 = Buffer.from(der).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
};
