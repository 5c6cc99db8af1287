/**
 * X.509 v3 certificates and PKCS#10 requests built from their fields, signed by whatever holds the
 * key: a `Signer` is `(tbsDer) => Promise<signature bytes>`, so AWS KMS `Sign`, a node:crypto key
 * or anything else can sign without this module ever seeing a private key. Pure (no AWS, no I/O);
 * the DER comes from @peculiar/asn1-x509's schemas, never hand-written.
 *
 * API
 * - `buildCertificate(fields, sign)` → `{ der, pem, tbsDer }`. `fields`: `serialNumber?` (bytes,
 *   default 16 random positive bytes), `issuer` and `subject` (`NameInput`: the DER of a Name, e.g.
 *   `subjectNameOf(caDer)`, or attributes `[{ type: 'CN', value: '…' }]`, types CN O OU C ST L
 *   emailAddress serialNumber or a dotted OID), `notBefore`, `notAfter`, `publicKey` (SPKI DER, e.g.
 *   KMS GetPublicKey's `PublicKey` or `key.export({ type: 'spki', format: 'der' })`),
 *   `extensions?` (`basicConstraints`, `keyUsage`, `subjectKeyIdentifier` ('hash' = SHA-1 of the
 *   key, RFC 5280 §4.2.1.2 method 1, or bytes), `authorityKeyIdentifier` (bytes),
 *   `extendedKeyUsage` (dotted OIDs)) and
 *   `signingAlgorithm` (a KMS SigningAlgorithmSpec name, below). `sign` receives the TBSCertificate
 *   DER and must return the signature as X.509 carries it: DER ECDSA-Sig-Value for ECDSA (what KMS
 *   and node:crypto return), the raw signature for RSA.
 * - `buildCsr({ subject, publicKey, signingAlgorithm }, sign)` → `{ der, pem }`: a PKCS#10 request
 *   (no attributes), `sign` receiving the CertificationRequestInfo DER.
 * - `KMS_SIGNING_ALGORITHMS`, `isKmsSigningAlgorithm(name)`, `signatureAlgorithmIdentifier(name)`
 *   (the AlgorithmIdentifier, RSASSA-PSS parameters included: hash and MGF1 with the same hash,
 *   salt length = hash length, as KMS signs), `hashOf(name)` ('sha256' | 'sha384' | 'sha512').
 * - `nodeSigner(privateKey, signingAlgorithm)`: a Signer over a node:crypto KeyObject (tests, a
 *   throw-away key), with KMS's PSS salt length.
 * - `subjectNameOf(certDer)`, `spkiOf(certDer)`, `subjectKeyIdentifierOf(certDer)` (undefined
 *   when the extension is absent), `keyIdentifierOf(spkiDer)`: what a child certificate needs from
 *   its issuer.
 */
import { createHash, randomBytes, sign as nodeSign, constants, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';
import { RsaSaPssParams, id_mgf1, id_RSASSA_PSS } from '@peculiar/asn1-rsa';
import { CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import { toPem } from './pem.ts';

/** KMS's SigningAlgorithmSpec names for the algorithms AWS IoT accepts. */
export const KMS_SIGNING_ALGORITHMS = [
  'ECDSA_SHA_256',
  'ECDSA_SHA_384',
  'ECDSA_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
] as const;
export type KmsSigningAlgorithm = (typeof KMS_SIGNING_ALGORITHMS)[number];

export const isKmsSigningAlgorithm = (name: string): name is KmsSigningAlgorithm =>
  (KMS_SIGNING_ALGORITHMS as readonly string[]).includes(name);

export type HashName = 'sha256' | 'sha384' | 'sha512';

/** Signs the DER it is given (TBSCertificate or CertificationRequestInfo); returns the signature. */
export type Signer = (toBeSigned: Uint8Array) => Promise<Uint8Array>;

const HASHES: Record<HashName, { oid: string; bytes: number }> = {
  sha256: { oid: '2.16.840.1.101.3.4.2.1', bytes: 32 },
  sha384: { oid: '2.16.840.1.101.3.4.2.2', bytes: 48 },
  sha512: { oid: '2.16.840.1.101.3.4.2.3', bytes: 64 },
};

const ALGORITHMS: Record<KmsSigningAlgorithm, { family: 'ecdsa' | 'pkcs1' | 'pss'; hash: HashName; oid: string }> = {
  ECDSA_SHA_256: { family: 'ecdsa', hash: 'sha256', oid: '1.2.840.10045.4.3.2' },
  ECDSA_SHA_384: { family: 'ecdsa', hash: 'sha384', oid: '1.2.840.10045.4.3.3' },
  ECDSA_SHA_512: { family: 'ecdsa', hash: 'sha512', oid: '1.2.840.10045.4.3.4' },
  RSASSA_PKCS1_V1_5_SHA_256: { family: 'pkcs1', hash: 'sha256', oid: '1.2.840.113549.1.1.11' },
  RSASSA_PKCS1_V1_5_SHA_384: { family: 'pkcs1', hash: 'sha384', oid: '1.2.840.113549.1.1.12' },
  RSASSA_PKCS1_V1_5_SHA_512: { family: 'pkcs1', hash: 'sha512', oid: '1.2.840.113549.1.1.13' },
  RSASSA_PSS_SHA_256: { family: 'pss', hash: 'sha256', oid: id_RSASSA_PSS },
  RSASSA_PSS_SHA_384: { family: 'pss', hash: 'sha384', oid: id_RSASSA_PSS },
  RSASSA_PSS_SHA_512: { family: 'pss', hash: 'sha512', oid: id_RSASSA_PSS },
};

export const hashOf = (algorithm: KmsSigningAlgorithm): HashName => ALGORITHMS[algorithm].hash;

/** 'ecdsa' | 'pkcs1' | 'pss': which key type signs with it and how. */
export const familyOf = (algorithm: KmsSigningAlgorithm): 'ecdsa' | 'pkcs1' | 'pss' => ALGORITHMS[algorithm].family;

const NULL_PARAMETERS = new Uint8Array([0x05, 0x00]).buffer;

const hashIdentifier = (hash: HashName): AlgorithmIdentifier =>
  // RFC 4055 §2.1: SHA-2 identifiers inside PSS parameters carry NULL parameters (what OpenSSL writes).
  new AlgorithmIdentifier({ algorithm: HASHES[hash].oid, parameters: NULL_PARAMETERS });

/**
 * The AlgorithmIdentifier of a KMS signing algorithm: ECDSA with no parameters (RFC 5758), PKCS#1
 * v1.5 with NULL (RFC 4055), RSASSA-PSS with its parameters stated in full (KMS signs PSS with
 * MGF1 over the same hash and a salt as long as the hash).
 */
export const signatureAlgorithmIdentifier = (algorithm: KmsSigningAlgorithm): AlgorithmIdentifier => {
  const spec = ALGORITHMS[algorithm];
  if (spec.family === 'ecdsa') return new AlgorithmIdentifier({ algorithm: spec.oid });
  if (spec.family === 'pkcs1') return new AlgorithmIdentifier({ algorithm: spec.oid, parameters: NULL_PARAMETERS });
  const params = new RsaSaPssParams({
    hashAlgorithm: hashIdentifier(spec.hash),
    maskGenAlgorithm: new AlgorithmIdentifier({
      algorithm: id_mgf1,
      parameters: AsnConvert.serialize(hashIdentifier(spec.hash)),
    }),
    saltLength: HASHES[spec.hash].bytes,
  });
  return new AlgorithmIdentifier({ algorithm: spec.oid, parameters: AsnConvert.serialize(params) });
};

/** A Signer over a node:crypto private key: DER ECDSA signatures, KMS's PSS salt length. */
export const nodeSigner =
  (privateKey: KeyObject, algorithm: KmsSigningAlgorithm): Signer =>
  async (data) => {
    const spec = ALGORITHMS[algorithm];
    const options =
      spec.family === 'pss'
        ? { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: HASHES[spec.hash].bytes }
        : spec.family === 'ecdsa'
          ? { key: privateKey, dsaEncoding: 'der' as const }
          : { key: privateKey, padding: constants.RSA_PKCS1_PADDING };
    return new Uint8Array(nodeSign(spec.hash, data, options));
  };

const NAME_TYPES: Record<string, string> = {
  CN: '2.5.4.3',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  serialNumber: '2.5.4.5',
  emailAddress: '1.2.840.113549.1.9.1',
};
const PRINTABLE_TYPES = new Set(['2.5.4.6', '2.5.4.5']);

/** A Name as DER, or its attributes in order, one attribute per RDN. */
export type NameInput = Uint8Array | ReadonlyArray<{ type: string; value: string }>;

const toName = (input: NameInput): Name => {
  if (input instanceof Uint8Array) return AsnConvert.parse(input, Name);
  return new Name(
    input.map(({ type, value }) => {
      const oid = NAME_TYPES[type] ?? type;
      if (!/^\d+(\.\d+)+$/.test(oid)) throw new TypeError(`Unknown name attribute type "${type}".`);
      const attributeValue =
        oid === NAME_TYPES.emailAddress
          ? new AttributeValue({ ia5String: value })
          : PRINTABLE_TYPES.has(oid)
            ? new AttributeValue({ printableString: value })
            : new AttributeValue({ utf8String: value });
      return new RelativeDistinguishedName([new AttributeTypeAndValue({ type: oid, value: attributeValue })]);
    }),
  );
};

const parseCertificateDer = (der: Uint8Array): Certificate => AsnConvert.parse(der, Certificate);

/** The subject Name of a certificate, as DER: the issuer of the certificates it signs. */
export const subjectNameOf = (certificateDer: Uint8Array): Uint8Array =>
  new Uint8Array(AsnConvert.serialize(parseCertificateDer(certificateDer).tbsCertificate.subject));

/** A certificate's SubjectPublicKeyInfo, as DER (compare it with KMS GetPublicKey's PublicKey). */
export const spkiOf = (certificateDer: Uint8Array): Uint8Array =>
  new Uint8Array(AsnConvert.serialize(parseCertificateDer(certificateDer).tbsCertificate.subjectPublicKeyInfo));

/** SHA-1 of the subjectPublicKey BIT STRING's bytes (RFC 5280 §4.2.1.2, method 1). */
export const keyIdentifierOf = (spkiDer: Uint8Array): Uint8Array => {
  const spki = AsnConvert.parse(spkiDer, SubjectPublicKeyInfo);
  return new Uint8Array(createHash('sha1').update(new Uint8Array(spki.subjectPublicKey)).digest());
};

/** The subjectKeyIdentifier extension's value, if the certificate has one. */
export const subjectKeyIdentifierOf = (certificateDer: Uint8Array): Uint8Array | undefined => {
  const extension = parseCertificateDer(certificateDer).tbsCertificate.extensions?.find(
    (candidate) => candidate.extnID === id_ce_subjectKeyIdentifier,
  );
  if (!extension) return undefined;
  const identifier = AsnConvert.parse(extension.extnValue, SubjectKeyIdentifier);
  return new Uint8Array(identifier.buffer);
};

export type KeyUsageName =
  | 'digitalSignature'
  | 'nonRepudiation'
  | 'keyEncipherment'
  | 'dataEncipherment'
  | 'keyAgreement'
  | 'keyCertSign'
  | 'cRLSign';

export interface ExtensionsInput {
  /** Marked critical, as RFC 5280 requires for CAs. */
  basicConstraints?: { ca: boolean; pathLength?: number };
  /** Marked critical. */
  keyUsage?: readonly KeyUsageName[];
  /** 'hash': SHA-1 of the subject public key. */
  subjectKeyIdentifier?: 'hash' | Uint8Array;
  /** The issuer's subject key identifier (`subjectKeyIdentifierOf(issuerDer)`). */
  authorityKeyIdentifier?: Uint8Array;
  /** Key purposes as dotted OIDs (`1.3.6.1.5.5.7.3.2` = clientAuth), not critical. */
  extendedKeyUsage?: readonly string[];
}

export interface CertificateFields {
  /** Positive, at most 20 bytes; default 16 random bytes. */
  serialNumber?: Uint8Array;
  issuer: NameInput;
  subject: NameInput;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo DER of the certified key. */
  publicKey: Uint8Array;
  extensions?: ExtensionsInput;
  signingAlgorithm: KmsSigningAlgorithm;
}

export interface BuiltCertificate {
  der: Uint8Array;
  pem: string;
  /** The TBSCertificate that was signed. */
  tbsDer: Uint8Array;
}

const randomSerial = (): Uint8Array => {
  const serial = randomBytes(16);
  // Positive and without a leading zero octet, so the INTEGER is exactly 16 bytes.
  serial[0] = ((serial[0] as number) & 0x7f) | 0x40;
  return new Uint8Array(serial);
};

const extensionsOf = (input: ExtensionsInput, spkiDer: Uint8Array): Extensions | undefined => {
  const list: Extension[] = [];
  if (input.basicConstraints) {
    const { ca, pathLength } = input.basicConstraints;
    list.push(
      new Extension({
        extnID: id_ce_basicConstraints,
        critical: true,
        extnValue: new OctetString(
          AsnConvert.serialize(
            new BasicConstraints(pathLength === undefined ? { cA: ca } : { cA: ca, pathLenConstraint: pathLength }),
          ),
        ),
      }),
    );
  }
  if (input.keyUsage && input.keyUsage.length > 0) {
    const flags = input.keyUsage.reduce((sum, usage) => sum | KeyUsageFlags[usage], 0);
    list.push(
      new Extension({
        extnID: id_ce_keyUsage,
        critical: true,
        extnValue: new OctetString(AsnConvert.serialize(new KeyUsage(flags))),
      }),
    );
  }
  if (input.subjectKeyIdentifier) {
    const identifier = input.subjectKeyIdentifier === 'hash' ? keyIdentifierOf(spkiDer) : input.subjectKeyIdentifier;
    list.push(
      new Extension({
        extnID: id_ce_subjectKeyIdentifier,
        extnValue: new OctetString(AsnConvert.serialize(new SubjectKeyIdentifier(identifier))),
      }),
    );
  }
  if (input.authorityKeyIdentifier) {
    list.push(
      new Extension({
        extnID: id_ce_authorityKeyIdentifier,
        extnValue: new OctetString(
          AsnConvert.serialize(
            new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(input.authorityKeyIdentifier) }),
          ),
        ),
      }),
    );
  }
  if (input.extendedKeyUsage && input.extendedKeyUsage.length > 0) {
    list.push(
      new Extension({
        extnID: id_ce_extKeyUsage,
        extnValue: new OctetString(AsnConvert.serialize(new ExtendedKeyUsage([...input.extendedKeyUsage]))),
      }),
    );
  }
  return list.length > 0 ? new Extensions(list) : undefined;
};

const bufferOf = (bytes: Uint8Array): ArrayBuffer =>
  bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;

/** Builds the TBSCertificate, has `sign` sign it, and assembles the certificate. */
export const buildCertificate = async (fields: CertificateFields, sign: Signer): Promise<BuiltCertificate> => {
  if (!(fields.notBefore < fields.notAfter)) throw new RangeError('notBefore must be before notAfter.');
  const serial = fields.serialNumber ?? randomSerial();
  if (serial.length === 0 || serial.length > 20 || ((serial[0] as number) & 0x80) !== 0) {
    throw new RangeError('serialNumber must be a positive INTEGER of 1-20 bytes.');
  }
  const signatureAlgorithm = signatureAlgorithmIdentifier(fields.signingAlgorithm);
  const extensions = fields.extensions ? extensionsOf(fields.extensions, fields.publicKey) : undefined;
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: bufferOf(serial),
    signature: signatureAlgorithm,
    issuer: toName(fields.issuer),
    validity: new Validity({ notBefore: fields.notBefore, notAfter: fields.notAfter }),
    subject: toName(fields.subject),
    subjectPublicKeyInfo: AsnConvert.parse(fields.publicKey, SubjectPublicKeyInfo),
    ...(extensions ? { extensions } : {}),
  });
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const signature = await sign(tbsDer);
  const certificate = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: signatureAlgorithmIdentifier(fields.signingAlgorithm),
    signatureValue: bufferOf(signature),
  });
  const der = new Uint8Array(AsnConvert.serialize(certificate));
  return { der, pem: toPem(der), tbsDer };
};

export interface CsrFields {
  subject: NameInput;
  /** SubjectPublicKeyInfo DER of the requested key. */
  publicKey: Uint8Array;
  signingAlgorithm: KmsSigningAlgorithm;
}

/** A PKCS#10 certificate request with no attributes, signed by the requested key through `sign`. */
export const buildCsr = async (fields: CsrFields, sign: Signer): Promise<{ der: Uint8Array; pem: string }> => {
  const info = new CertificationRequestInfo({
    version: 0,
    subject: toName(fields.subject),
    subjectPKInfo: AsnConvert.parse(fields.publicKey, SubjectPublicKeyInfo),
  });
  const infoDer = new Uint8Array(AsnConvert.serialize(info));
  const signature = await sign(infoDer);
  const request = new CertificationRequest({
    certificationRequestInfo: info,
    signatureAlgorithm: signatureAlgorithmIdentifier(fields.signingAlgorithm),
    signature: bufferOf(signature),
  });
  const der = new Uint8Array(AsnConvert.serialize(request));
  return { der, pem: toPem(der, 'CERTIFICATE REQUEST') };
};
