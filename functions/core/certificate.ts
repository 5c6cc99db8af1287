import { daysLeft, DEFAULT_EXPIRY_WARNING_DAYS, expiresWithin } from './expiry.ts';
import { createHash, X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import { PipelineError } from './errors.ts';
import { parsePemBlocks, toPem, type PemBlock } from './pem.ts';

/** Warn this many days before a CA's validity ends. */

const CERTIFICATE_LABELS = new Set(['CERTIFICATE', 'X509 CERTIFICATE', 'TRUSTED CERTIFICATE']);
const LABEL_HINTS: Record<string, string> = {
  'CERTIFICATE REQUEST': 'a certificate signing request (CSR)',
  'NEW CERTIFICATE REQUEST': 'a certificate signing request (CSR)',
  PKCS7: 'a PKCS#7 bundle',
  CMS: 'a PKCS#7/CMS bundle',
  'PUBLIC KEY': 'a public key',
  'RSA PUBLIC KEY': 'a public key',
  'X509 CRL': 'a certificate revocation list',
};

/** Signature algorithms AWS IoT accepts (AWS-IOT-RULES.md), by OID. */
const ACCEPTED_SIGNATURES: Record<string, string> = {
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
};
const KNOWN_REJECTED_SIGNATURES: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.14': 'sha224WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.1': 'ecdsa-with-SHA224',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
  '1.2.840.10040.4.3': 'dsa-with-SHA1',
};
const CURVES: Record<string, { name: string; accepted: boolean; warning?: string }> = {
  prime256v1: { name: 'P-256', accepted: true },
  secp384r1: { name: 'P-384', accepted: true },
  secp521r1: {
    name: 'P-521',
    accepted: true,
    warning: 'P-521 keys are not in AWS IoT documentation; AWS may refuse them.',
  },
};

/** One certificate, parsed once: what the checks below need. */
export interface ParsedCertificate {
  der: Uint8Array;
  /** SHA-256 of the DER: AWS IoT's certificateId. */
  certificateId: string;
  subject: string;
  subjectAttributes: Array<{ name: string; value: string }>;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  signatureOid: string;
  /** For RSASSA-PSS: the hash its parameters name (SHA-1 when they name none). */
  pssHashOid?: string;
  publicKey: KeyObject | undefined;
  node: NodeX509;
}

/**
 * A name as OpenSSL prints it for Node (one RDN a line, `a + b` for multi-valued RDNs, values
 * escaped as RFC 2253 says, control and other bytes as `\XX`), back to attributes and values.
 */
export const nameAttributes = (printed: string): Array<{ name: string; value: string }> =>
  printed === ''
    ? []
    : printed
        .split('\n')
        .flatMap((rdn) => rdn.split(/(?<!\\) \+ /))
        .map((attribute) => {
          const eq = attribute.indexOf('=');
          return { name: attribute.slice(0, eq), value: unescapeRfc2253(attribute.slice(eq + 1)) };
        });

const unescapeRfc2253 = (value: string): string => {
  const bytes: Buffer[] = [];
  let last = 0;
  for (const match of value.matchAll(/\\(?:([0-9A-Fa-f]{2})|([\s\S]))/g)) {
    bytes.push(Buffer.from(value.slice(last, match.index), 'utf8'));
    bytes.push(match[1] ? Buffer.from([Number.parseInt(match[1], 16)]) : Buffer.from(match[2] as string, 'utf8'));
    last = (match.index as number) + match[0].length;
  }
  bytes.push(Buffer.from(value.slice(last), 'utf8'));
  return Buffer.concat(bytes).toString('utf8');
};

const formatName = (attributes: Array<{ name: string; value: string }>): string =>
  attributes.map(({ name, value }) => `${name}=${value}`).join(', ');

/** A DER element's content: [start, end) after its tag and length octets. */
const elementAt = (der: Uint8Array, offset: number): { tag: number; start: number; end: number } => {
  let length = der[offset + 1] as number;
  let start = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (der[start++] as number);
  }
  return { tag: der[offset] as number, start, end: start + length };
};

const oidAt = (der: Uint8Array, element: { start: number; end: number }): string => {
  const arcs: number[] = [];
  let arc = 0;
  for (let i = element.start; i < element.end; i++) {
    const byte = der[i] as number;
    arc = arc * 128 + (byte & 0x7f);
    if (byte & 0x80) continue;
    if (arcs.length === 0) {
      // The first subidentifier packs two arcs: 40 × first + second, the first being at most 2.
      const first = Math.min(2, Math.floor(arc / 40));
      arcs.push(first, arc - 40 * first);
    } else arcs.push(arc);
    arc = 0;
  }
  return arcs.join('.');
};

const RSASSA_PSS = '1.2.840.113549.1.1.10';
const SHA1 = '1.3.14.3.2.26';

/**
 * The outer signatureAlgorithm (Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
 * signature }), which Node does not expose: its OID, and for RSASSA-PSS the hash its parameters
 * name (`hashAlgorithm [0]`, SHA-1 when absent, RFC 4055). Only called on DER that OpenSSL has
 * already parsed as a certificate, so the headers read here are well formed.
 */
const signatureAlgorithmOf = (der: Uint8Array): { oid: string; pssHash?: string } => {
  const certificate = elementAt(der, 0);
  const tbs = elementAt(der, certificate.start);
  const algorithm = elementAt(der, tbs.end);
  const oidElement = elementAt(der, algorithm.start);
  const oid = oidAt(der, oidElement);
  if (oid !== RSASSA_PSS) return { oid };
  let pssHash = SHA1;
  if (oidElement.end < algorithm.end) {
    const params = elementAt(der, oidElement.end);
    const first = params.start < params.end ? elementAt(der, params.start) : undefined;
    if (params.tag === 0x30 && first?.tag === 0xa0) {
      const hashAlgorithm = elementAt(der, first.start);
      pssHash = oidAt(der, elementAt(der, hashAlgorithm.start));
    }
  }
  return { oid, pssHash };
};

export const certificateIdOf = (der: Uint8Array): string => createHash('sha256').update(der).digest('hex');

export const parseCertificate = (block: PemBlock, role = 'certificate'): ParsedCertificate => {
  let node: NodeX509;
  try {
    node = new NodeX509(block.der);
  } catch (cause) {
    throw new PipelineError(
      'MalformedPemError',
      `The ${role} is not a well-formed X.509 certificate (its DER does not parse).`,
      {
        cause,
      },
    );
  }
  let publicKey: KeyObject | undefined;
  try {
    publicKey = node.publicKey;
  } catch {
    // An algorithm OpenSSL cannot load is reported by the key check, with its name.
    publicKey = undefined;
  }
  const subjectAttributes = nameAttributes(node.subject);
  const signature = signatureAlgorithmOf(block.der);
  return {
    der: block.der,
    certificateId: certificateIdOf(block.der),
    subject: formatName(subjectAttributes),
    subjectAttributes,
    issuer: formatName(nameAttributes(node.issuer)),
    notBefore: new Date(node.validFrom),
    notAfter: new Date(node.validTo),
    isCa: node.ca,
    signatureOid: signature.oid,
    ...(signature.pssHash ? { pssHashOid: signature.pssHash } : {}),
    publicKey,
    node,
  };
};

export { daysLeft } from './expiry.ts';

export interface KeyDescription {
  description: string;
  warnings: string[];
}

/** RSA ≥ 2048 bits, or ECDSA P-256/P-384 (P-521 with a warning): AWS-IOT-RULES.md. */
export const checkKey = (cert: ParsedCertificate, role = 'CA certificate'): KeyDescription => {
  const key = cert.publicKey;
  if (!key)
    throw new PipelineError(
      'UnsupportedKeyError',
      `The ${role}'s public key algorithm is not one AWS IoT accepts (RSA or ECDSA).`,
    );
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa' || type === 'rsa-pss') {
    const bits = details.modulusLength ?? 0;
    if (bits < 2048) {
      throw new PipelineError(
        'UnsupportedKeyError',
        `The ${role} has a ${bits}-bit RSA key; AWS IoT requires at least 2048 bits.`,
      );
    }
    return { description: `RSA-${bits}`, warnings: [] };
  }
  if (type === 'ec') {
    const curve = CURVES[details.namedCurve ?? ''];
    if (!curve) {
      throw new PipelineError(
        'UnsupportedKeyError',
        `The ${role} uses the elliptic curve ${details.namedCurve ?? 'unknown'}; AWS IoT accepts P-256 and P-384.`,
      );
    }
    return { description: `EC-${curve.name}`, warnings: curve.warning ? [curve.warning] : [] };
  }
  throw new PipelineError(
    'UnsupportedKeyError',
    `The ${role} has a ${type ?? 'unknown'} key; AWS IoT accepts RSA (2048 bits or more) and ECDSA P-256/P-384.`,
  );
};

/** The hashes AWS names RSASSA-PSS with: SHA256WITHRSAANDMGF1 and its SHA-384/512 siblings. */
const PSS_HASHES: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'SHA-256',
  '2.16.840.1.101.3.4.2.2': 'SHA-384',
  '2.16.840.1.101.3.4.2.3': 'SHA-512',
};

export const checkSignatureAlgorithm = (cert: ParsedCertificate, role = 'CA certificate'): string => {
  if (cert.signatureOid === RSASSA_PSS) {
    const hash = PSS_HASHES[cert.pssHashOid ?? SHA1];
    if (hash) return `RSASSA-PSS with ${hash}`;
    throw new PipelineError(
      'UnsupportedSignatureAlgorithmError',
      `The ${role} is signed with RSASSA-PSS over ${cert.pssHashOid === SHA1 || !cert.pssHashOid ? 'SHA-1' : `OID ${cert.pssHashOid}`}; AWS IoT accepts RSASSA-PSS only with SHA-256/384/512.`,
    );
  }
  const accepted = ACCEPTED_SIGNATURES[cert.signatureOid];
  if (accepted) return accepted;
  const name = KNOWN_REJECTED_SIGNATURES[cert.signatureOid] ?? `OID ${cert.signatureOid}`;
  throw new PipelineError(
    'UnsupportedSignatureAlgorithmError',
    `The ${role} is signed with ${name}; AWS IoT accepts SHA-256/384/512 with RSA, RSASSA-PSS or ECDSA.`,
  );
};

/** True when `cert`'s signature verifies with `issuerKey`: a real signature check, not a name match. */
export const isSignedBy = (cert: ParsedCertificate, issuerKey: KeyObject | undefined): boolean => {
  if (!issuerKey) return false;
  try {
    return cert.node.verify(issuerKey);
  } catch {
    return false;
  }
};

export interface CaInspection {
  certificateId: string;
  /** The CA alone, re-encoded as one canonical PEM block. */
  caPem: string;
  /** A verification certificate found after the CA in the same file. */
  verificationPem?: string;
  subject: string;
  issuer: string;
  selfSigned: boolean;
  notBefore: string;
  notAfter: string;
  key: string;
  signatureAlgorithm: string;
  warnings: string[];
}

const certificateBlocks = (blocks: PemBlock[]): PemBlock[] => {
  const certificates = blocks.filter((block) => CERTIFICATE_LABELS.has(block.label));
  if (certificates.length === 0) {
    const first = blocks[0] as PemBlock;
    const what = LABEL_HINTS[first.label] ?? `a "${first.label}" PEM block`;
    throw new PipelineError('NotACertificateError', `The file holds ${what}, not a certificate.`);
  }
  return certificates;
};

/**
 * The pipeline's pre-flight of a CA file (AWS-IOT-RULES.md): exactly one CA certificate,
 * optionally followed by one non-CA verification certificate; CA:TRUE; within validity; an
 * accepted key and signature algorithm. Throws the named error of the first rule broken.
 */
export const inspectCaFile = (
  text: string,
  now: Date = new Date(),
  expiryWarningDays: number = DEFAULT_EXPIRY_WARNING_DAYS,
): CaInspection => {
  const certificates = certificateBlocks(parsePemBlocks(text)).map((block, index) =>
    parseCertificate(block, index === 0 ? 'CA certificate' : `certificate #${index + 1}`),
  );
  const cas = certificates.filter((cert) => cert.isCa);
  if (cas.length > 1) {
    throw new PipelineError(
      'AmbiguousCaError',
      `The file holds ${cas.length} CA certificates (${cas.map((cert) => cert.subject).join('; ')}); upload one CA per file.`,
    );
  }
  const ca = cas[0];
  if (!ca) {
    const first = certificates[0] as ParsedCertificate;
    throw new PipelineError(
      'NotACaError',
      `The certificate "${first.subject}" is not a CA (basicConstraints CA:TRUE is missing); a leaf or device certificate cannot be registered as a CA.`,
    );
  }
  const others = certificates.filter((cert) => cert !== ca);
  if (others.length > 1) {
    throw new PipelineError(
      'TooManyCertificatesError',
      `The file holds ${certificates.length} certificates; expected the CA and at most one verification certificate.`,
    );
  }
  const warnings: string[] = [];
  checkValidity(ca, now, 'CA certificate', warnings, expiryWarningDays);
  const key = checkKey(ca);
  warnings.push(...key.warnings);
  const signatureAlgorithm = checkSignatureAlgorithm(ca);
  const selfSigned = ca.subject === ca.issuer;
  if (selfSigned && !isSignedBy(ca, ca.publicKey)) {
    warnings.push(
      'The CA is self-issued but its signature does not verify with its own key; the file may be corrupted.',
    );
  }
  const verification = others[0];
  return {
    certificateId: ca.certificateId,
    caPem: toPem(ca.der),
    ...(verification ? { verificationPem: toPem(verification.der) } : {}),
    subject: ca.subject,
    issuer: ca.issuer,
    selfSigned,
    notBefore: ca.notBefore.toISOString(),
    notAfter: ca.notAfter.toISOString(),
    key: key.description,
    signatureAlgorithm,
    warnings,
  };
};

const checkValidity = (
  cert: ParsedCertificate,
  now: Date,
  role: 'CA certificate' | 'verification certificate',
  warnings: string[],
  expiryWarningDays = DEFAULT_EXPIRY_WARNING_DAYS,
): void => {
  const isCa = role === 'CA certificate';
  if (now < cert.notBefore) {
    throw new PipelineError(
      isCa ? 'CertificateNotYetValidError' : 'VerificationCertificateNotYetValidError',
      `The ${role} is not valid until ${cert.notBefore.toISOString()}.`,
    );
  }
  if (now > cert.notAfter) {
    throw new PipelineError(
      isCa ? 'CertificateExpiredError' : 'VerificationCertificateExpiredError',
      `The ${role} expired on ${cert.notAfter.toISOString()}.`,
    );
  }
  if (isCa && expiresWithin(cert.notAfter, expiryWarningDays, now)) {
    warnings.push(
      `The CA certificate expires in ${daysLeft(cert.notAfter, now)} days (${cert.notAfter.toISOString()}).`,
    );
  }
};

/** Parses a PEM that must hold exactly one certificate (a verification certificate). */
const singleCertificate = (text: string, role: string): ParsedCertificate => {
  const certificates = certificateBlocks(parsePemBlocks(text));
  if (certificates.length !== 1) {
    throw new PipelineError(
      'TooManyCertificatesError',
      `The ${role} file holds ${certificates.length} certificates; expected one.`,
    );
  }
  return parseCertificate(certificates[0] as PemBlock, role);
};

export interface VerificationResult {
  certificateId: string;
  subject: string;
}

/**
 * Proof of possession, checked before AWS sees it: the verification certificate's subject CN is
 * the registration code, its signature verifies with the CA's public key, and it is in validity.
 */
export const checkVerification = (
  caPem: string,
  verificationPem: string,
  /** Undefined only for an offline check that cannot know the account's code (`iot-ca check`). */
  registrationCode: string | undefined,
  now: Date = new Date(),
): VerificationResult => {
  const ca = singleCertificate(caPem, 'CA certificate');
  const verification = singleCertificate(verificationPem, 'verification certificate');
  if (registrationCode !== undefined) checkRegistrationCode(verification, registrationCode);
  // A self-signed CA verifies with its own key, so given as its own verification certificate it
  // would pass every other check here while proving nothing about the registration code.
  if (verification.certificateId === ca.certificateId) {
    throw new PipelineError(
      'VerificationSignatureError',
      'The verification certificate is the CA certificate itself; it must be a separate certificate whose CN is the registration code, signed by the CA key.',
    );
  }
  if (!isSignedBy(verification, ca.publicKey)) {
    throw new PipelineError(
      'VerificationSignatureError',
      `The verification certificate is not signed by this CA's key (issuer "${verification.issuer}").`,
    );
  }
  checkValidity(verification, now, 'verification certificate', []);
  return { certificateId: verification.certificateId, subject: verification.subject };
};

const checkRegistrationCode = (verification: ParsedCertificate, registrationCode: string): void => {
  const commonNames = verification.subjectAttributes.filter((attr) => attr.name === 'CN').map((attr) => attr.value);
  // AWS says "the CN" is the code: one CN, the code (the strict reading, as the IoT emulator's).
  if (commonNames.length > 1 && commonNames.includes(registrationCode)) {
    throw new PipelineError(
      'RegistrationCodeMismatchError',
      `The verification certificate has ${commonNames.length} CNs; its subject must have exactly one CN, the registration code ${registrationCode}.`,
    );
  }
  if (!commonNames.includes(registrationCode)) {
    const elsewhere = verification.subjectAttributes.find((attr) => attr.value === registrationCode);
    const found = commonNames.length === 0 ? 'no CN' : `CN "${commonNames.join('", "')}"`;
    const hint = elsewhere ? ` The code is in the ${elsewhere.name} attribute; it must be the CN.` : '';
    throw new PipelineError(
      'RegistrationCodeMismatchError',
      `The verification certificate has ${found}; its CN must be the registration code ${registrationCode}.${hint}`,
    );
  }
};

/** A verification certificate file (the sibling object) as one canonical PEM block. */
export const readVerificationFile = (text: string): string =>
  toPem(singleCertificate(text, 'verification certificate').der);
