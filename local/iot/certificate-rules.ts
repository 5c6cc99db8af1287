/**
 * AWS IoT's rules for a CA certificate and its verification certificate (AWS-IOT-RULES.md,
 * "RegisterCACertificate"), written for the emulator alone: certificates are read with
 * @peculiar/x509 and keys and signatures checked with WebCrypto, where the pipeline's pre-flight
 * uses OpenSSL through node:crypto. Two readings of the same rules, so that a mistake in one shows
 * up as a disagreement in the differential test (test/referee/differential.test.ts) instead of
 * two copies agreeing with each other.
 *
 * Where the rules doc leaves a reading open, the strictest reasonable one is taken: RSASSA-PSS only
 * with a SHA-2 hash; the verification certificate's subject must have exactly one CN.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { certificateInvalid, IotError, iotError } from './errors.ts';

const crypto = webcrypto as unknown as Crypto;
x509.cryptoProvider.set(crypto);

const RSA_KEYS = new Set(['1.2.840.113549.1.1.1', '1.2.840.113549.1.1.10']);
const EC_KEY = '1.2.840.10045.2.1';
/** Curves by WebCrypto name; P-521 is undocumented by AWS and taken as accepted (the rules doc). */
const ACCEPTED_CURVES = new Set(['P-256', 'P-384', 'P-521']);
const MIN_RSA_BITS = 2048;
const RSA_PSS = '1.2.840.113549.1.1.10';
const SIGNATURES: Record<string, string> = {
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  [RSA_PSS]: 'RSASSA-PSS',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
};
const SHA2 = new Set(['SHA-256', 'SHA-384', 'SHA-512']);

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/g;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** What registration needs from a CA certificate that passed every rule. */
export interface CaCertificateFacts {
  certificate: x509.X509Certificate;
  /** SHA-256 of the DER, hex: AWS IoT's certificateId. */
  certificateId: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
}

/** A certificate as read: @peculiar/x509's view, and the ASN.1 it was built from (for the OIDs as stated). */
interface Read {
  certificate: x509.X509Certificate;
  asn: Certificate;
}

/** The one certificate a field holds (other PEM blocks are not certificates and are ignored). */
export const readCertificate = (text: string, role: string): Read => {
  const bodies = [...text.replace(/\r/g, '').matchAll(PEM_CERTIFICATE)].map((match) =>
    (match[1] as string).replace(/\s+/g, ''),
  );
  if (bodies.length !== 1) throw certificateInvalid(`The ${role} must hold exactly one PEM certificate.`);
  const body = bodies[0] as string;
  if (!BASE64.test(body) || body.length % 4 !== 0) throw certificateInvalid(`The ${role}'s PEM body is not base64.`);
  try {
    // Parsed once: building the X509Certificate from the ASN.1 is cheaper than parsing the DER twice.
    const asn = AsnConvert.parse(Buffer.from(body, 'base64'), Certificate);
    return { certificate: new x509.X509Certificate(asn), asn };
  } catch {
    throw certificateInvalid(`The ${role} could not be parsed as an X.509 certificate.`);
  }
};

const withinValidity = (certificate: x509.X509Certificate, now: Date, role: string): void => {
  if (now < certificate.notBefore || now > certificate.notAfter)
    throw certificateInvalid(`The ${role} is not within its validity period.`);
};

/** RSA of at least 2048 bits (counted by WebCrypto, bit for bit), or ECDSA on an accepted curve. */
const checkKey = async (certificate: x509.X509Certificate, asn: Certificate): Promise<void> => {
  const key = certificate.publicKey;
  const oid = asn.tbsCertificate.subjectPublicKeyInfo.algorithm.algorithm;
  if (RSA_KEYS.has(oid)) {
    let bits = 0;
    try {
      bits = ((await key.export(crypto)).algorithm as RsaHashedKeyAlgorithm).modulusLength;
    } catch {
      throw certificateInvalid('The CA certificate has an RSA key that cannot be read.');
    }
    if (bits < MIN_RSA_BITS)
      throw certificateInvalid(`The CA certificate has a ${bits}-bit RSA key; at least ${MIN_RSA_BITS} are required.`);
    return;
  }
  if (oid === EC_KEY) {
    let curve: string | undefined;
    try {
      curve = (key.algorithm as EcKeyAlgorithm).namedCurve;
    } catch {
      curve = undefined;
    }
    if (!curve || !ACCEPTED_CURVES.has(curve))
      throw certificateInvalid(`The CA certificate's elliptic curve ${curve ?? 'unknown'} is not accepted.`);
    return;
  }
  throw certificateInvalid(`The CA certificate's key algorithm ${oid} is not accepted (RSA or ECDSA only).`);
};

/** The outer signature algorithm: SHA-2 with RSA or ECDSA, or RSASSA-PSS over a SHA-2 hash. */
const checkSignatureAlgorithm = (certificate: x509.X509Certificate, asn: Certificate): void => {
  const oid = asn.signatureAlgorithm.algorithm;
  const name = SIGNATURES[oid];
  if (!name) throw certificateInvalid(`The CA certificate's signature algorithm ${oid} is not accepted.`);
  if (oid === RSA_PSS) {
    let hash: string | undefined;
    try {
      hash = (certificate.signatureAlgorithm as { hash?: { name?: string } }).hash?.name;
    } catch {
      hash = undefined;
    }
    if (!hash || !SHA2.has(hash))
      throw certificateInvalid(`The CA certificate is signed with RSASSA-PSS over ${hash ?? 'an unknown hash'}.`);
  }
};

/** A certificate that parses but breaks a reader further on is still a CertificateValidationException. */
const asValidationError = async <T>(role: string, check: () => Promise<T>): Promise<T> => {
  try {
    return await check();
  } catch (error) {
    if (error instanceof IotError) throw error;
    throw certificateInvalid(`The ${role} could not be read: ${(error as Error).message}`);
  }
};

/** Every rule a CA certificate must pass, in the order the emulator reports them. */
export const checkCaCertificate = (text: string, now: Date): Promise<CaCertificateFacts> =>
  asValidationError('CA certificate', () => caFacts(text, now));

const caFacts = async (text: string, now: Date): Promise<CaCertificateFacts> => {
  const { certificate, asn } = readCertificate(text, 'CA certificate');
  withinValidity(certificate, now, 'CA certificate');
  if (certificate.getExtension(x509.BasicConstraintsExtension)?.ca !== true)
    throw certificateInvalid('The certificate is not a CA certificate (basicConstraints CA:TRUE).');
  // The OIDs as the certificate states them, not as a library maps them to WebCrypto names.
  await checkKey(certificate, asn);
  checkSignatureAlgorithm(certificate, asn);
  const thumbprint = await certificate.getThumbprint('SHA-256', crypto);
  return {
    certificate,
    certificateId: Buffer.from(thumbprint).toString('hex'),
    subject: certificate.subject,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
  };
};

/**
 * Proof of possession (DEFAULT mode): the verification certificate's one CN is the registration
 * code, its signature verifies with the CA's public key, and it is within its validity period.
 */
export const checkPossession = (
  ca: x509.X509Certificate,
  verificationText: string,
  registrationCode: string | undefined,
  now: Date,
): Promise<void> =>
  asValidationError('verification certificate', () => possession(ca, verificationText, registrationCode, now));

const possession = async (
  ca: x509.X509Certificate,
  verificationText: string,
  registrationCode: string | undefined,
  now: Date,
): Promise<void> => {
  const { certificate: verification } = readCertificate(verificationText, 'verification certificate');
  const commonNames = verification.subjectName.getField('CN');
  if (commonNames.length !== 1) {
    throw iotError(
      'RegistrationCodeValidationException',
      `The verification certificate's subject has ${commonNames.length} CNs; its one CN must be the registration code.`,
    );
  }
  if (!registrationCode || commonNames[0] !== registrationCode) {
    throw iotError(
      'RegistrationCodeValidationException',
      'The verification certificate CN does not match the registration code.',
    );
  }
  let signed = false;
  try {
    signed = await verification.verify({ publicKey: ca.publicKey, signatureOnly: true }, crypto);
  } catch {
    signed = false;
  }
  if (!signed) throw certificateInvalid('The verification certificate is not signed by the CA certificate.');
  withinValidity(verification, now, 'verification certificate');
};
