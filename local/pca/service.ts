/**
 * The Private CA emulator's state and rules: certificate authorities (ROOT and SUBORDINATE), the
 * path AWS takes to make a root CA (Create → GetCertificateAuthorityCsr → IssueCertificate with
 * RootCACertificate/V1 → ImportCertificateAuthorityCertificate → ACTIVE), and end-entity
 * certificates issued from a CSR. Keys and certificates live in memory only
 * (docs/adr/0022-kms-and-private-ca-keys-in-memory.md).
 */
import { randomBytes, randomUUID, X509Certificate as NodeCertificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { blob, oneOf, required, validationError } from '../json11.ts';
import { pcaError } from './errors.ts';
import {
  type CaKey,
  compatible,
  createCaKey,
  END_ENTITY_TEMPLATE,
  KEY_ALGORITHMS,
  keyIdentifier,
  ROOT_TEMPLATE,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
  TEMPLATES,
} from './signing.ts';

type Status = 'PENDING_CERTIFICATE' | 'ACTIVE';

interface Issued {
  pem: string;
  chain?: string;
  /** GetCertificate calls so far: the first answers RequestInProgressException, as issuance is asynchronous. */
  reads: number;
}

interface Authority {
  arn: string;
  type: 'ROOT' | 'SUBORDINATE';
  created: number;
  changed: number;
  status: Status;
  configuration: Record<string, any>;
  subject: x509.Name;
  signing: SigningAlgorithm;
  key: CaKey;
  csr: string;
  certificate?: x509.X509Certificate;
  chain?: string;
  issued: Map<string, Issued>;
}

/** Subject members of the API (ASN1Subject) and the attribute each becomes, in AWS's order. */
const SUBJECT_ATTRIBUTES: Array<[string, string]> = [
  ['Country', '2.5.4.6'],
  ['Organization', '2.5.4.10'],
  ['OrganizationalUnit', '2.5.4.11'],
  ['DistinguishedNameQualifier', '2.5.4.46'],
  ['State', '2.5.4.8'],
  ['CommonName', '2.5.4.3'],
  ['SerialNumber', '2.5.4.5'],
  ['Locality', '2.5.4.7'],
  ['Title', '2.5.4.12'],
  ['Surname', '2.5.4.4'],
  ['GivenName', '2.5.4.42'],
  ['Initials', '2.5.4.43'],
  ['Pseudonym', '2.5.4.65'],
  ['GenerationQualifier', '2.5.4.44'],
];

const VALIDITY_TYPES = ['END_DATE', 'ABSOLUTE', 'DAYS', 'MONTHS', 'YEARS'] as const;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const seconds = (ms: number) => Math.floor(ms / 1000);
const ARN = /^arn:aws:acm-pca:([a-z0-9-]+):(\d{12}):certificate-authority\/([0-9a-f-]{36})$/;

/** A certificate from PEM bytes (a blob member), or undefined when it is none. */
const parseCertificate = (bytes: Buffer): x509.X509Certificate | undefined => {
  try {
    return new x509.X509Certificate(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
};

const sameKey = (a: ArrayBuffer, b: ArrayBuffer) => Buffer.from(a).equals(Buffer.from(b));

export class PcaService {
  private readonly authorities = new Map<string, Authority>();
  private readonly idempotency = new Map<string, string>();

  constructor(
    readonly region: string,
    readonly account: string,
  ) {}

  private authority(arn: unknown): Authority {
    const text = required<string>({ arn }, 'arn', 'certificateAuthorityArn');
    if (!ARN.test(text)) throw pcaError('InvalidArnException', `The ARN is not valid: ${text}`);
    const found = this.authorities.get(text);
    if (!found) throw pcaError('ResourceNotFoundException', `Could not find certificate authority ${text}.`);
    return found;
  }

  private describe(ca: Authority) {
    return {
      Arn: ca.arn,
      OwnerAccount: this.account,
      CreatedAt: seconds(ca.created),
      LastStateChangeAt: seconds(ca.changed),
      Type: ca.type,
      Status: ca.status,
      ...(ca.certificate
        ? {
            Serial: ca.certificate.serialNumber,
            NotBefore: seconds(ca.certificate.notBefore.getTime()),
            NotAfter: seconds(ca.certificate.notAfter.getTime()),
          }
        : {}),
      CertificateAuthorityConfiguration: ca.configuration,
      RevocationConfiguration: { CrlConfiguration: { Enabled: false }, OcspConfiguration: { Enabled: false } },
      KeyStorageSecurityStandard: 'FIPS_140_2_LEVEL_3_OR_HIGHER',
      UsageMode: 'GENERAL_PURPOSE',
    };
  }

  async createCertificateAuthority(body: Record<string, any>) {
    const token = typeof body.IdempotencyToken === 'string' ? `create/${body.IdempotencyToken}` : undefined;
    const known = token ? this.idempotency.get(token) : undefined;
    if (known) return { CertificateAuthorityArn: known };
    const type = oneOf(body, 'CertificateAuthorityType', ['ROOT', 'SUBORDINATE'] as const);
    const configuration = required<Record<string, any>>(body, 'CertificateAuthorityConfiguration');
    const keyAlgorithm = oneOf(configuration, 'KeyAlgorithm', KEY_ALGORITHMS);
    const signing = oneOf(configuration, 'SigningAlgorithm', SIGNING_ALGORITHMS);
    if (!compatible(keyAlgorithm, signing))
      throw pcaError(
        'InvalidArgsException',
        `SigningAlgorithm ${signing} cannot be used with KeyAlgorithm ${keyAlgorithm}.`,
      );
    const subjectConfig = required<Record<string, unknown>>(
      configuration,
      'Subject',
      'certificateAuthorityConfiguration.subject',
    );
    const json: x509.JsonName = SUBJECT_ATTRIBUTES.flatMap(([member, oid]) =>
      typeof subjectConfig[member] === 'string' && subjectConfig[member]
        ? [{ [oid]: [subjectConfig[member] as string] }]
        : [],
    );
    if (json.length === 0)
      throw pcaError('InvalidArgsException', 'The subject must have at least one attribute, such as CommonName.');
    if (
      body.KeyStorageSecurityStandard !== undefined &&
      !/^FIPS_140_2_LEVEL_[23]_OR_HIGHER$/.test(body.KeyStorageSecurityStandard)
    )
      throw pcaError(
        'InvalidArgsException',
        `Unsupported KeyStorageSecurityStandard ${body.KeyStorageSecurityStandard}.`,
      );
    const subject = new x509.Name(json);
    const key = createCaKey(keyAlgorithm);
    const csr = await key.csr(subject, signing);
    const arn = `arn:aws:acm-pca:${this.region}:${this.account}:certificate-authority/${randomUUID()}`;
    const now = Date.now();
    this.authorities.set(arn, {
      arn,
      type,
      created: now,
      changed: now,
      status: 'PENDING_CERTIFICATE',
      configuration: { KeyAlgorithm: keyAlgorithm, SigningAlgorithm: signing, Subject: subjectConfig },
      subject,
      signing,
      key,
      csr: csr.toString('pem'),
      issued: new Map(),
    });
    if (token) this.idempotency.set(token, arn);
    return { CertificateAuthorityArn: arn };
  }

  describeCertificateAuthority(body: Record<string, any>) {
    return { CertificateAuthority: this.describe(this.authority(body.CertificateAuthorityArn)) };
  }

  listCertificateAuthorities(body: Record<string, any>) {
    const all = [...this.authorities.values()];
    const start = body.NextToken === undefined ? 0 : Number(body.NextToken);
    if (!Number.isInteger(start) || start < 0 || start > all.length)
      throw pcaError('InvalidNextTokenException', `The token is not valid: ${body.NextToken}`);
    const max = body.MaxResults ?? 100;
    const page = all.slice(start, start + max);
    return {
      CertificateAuthorities: page.map((ca) => this.describe(ca)),
      ...(start + max < all.length ? { NextToken: String(start + max) } : {}),
    };
  }

  getCertificateAuthorityCsr(body: Record<string, any>) {
    return { Csr: this.authority(body.CertificateAuthorityArn).csr };
  }

  /** When the certificate's validity ends, as the Validity member says (AWS's ValidityPeriodType). */
  private notAfter(validity: Record<string, any>, now: number): Date {
    const type = oneOf(validity, 'Type', VALIDITY_TYPES);
    const value = required<number>(validity, 'Value', 'validity.value');
    if (!Number.isInteger(value) || value < 1)
      throw validationError('validity.value', value, 'Member must have value greater than or equal to 1');
    switch (type) {
      case 'DAYS':
        return new Date(now + value * DAY);
      case 'MONTHS':
      case 'YEARS': {
        const date = new Date(now);
        date.setUTCMonth(date.getUTCMonth() + (type === 'MONTHS' ? value : 12 * value));
        return date;
      }
      case 'ABSOLUTE':
        return new Date(value * 1000);
      case 'END_DATE': {
        const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(String(value));
        if (!match) throw pcaError('InvalidArgsException', `END_DATE must be YYYYMMDDHHMMSS, not ${value}.`);
        const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
        return new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, s));
      }
    }
  }

  async issueCertificate(body: Record<string, any>) {
    const ca = this.authority(body.CertificateAuthorityArn);
    const token = typeof body.IdempotencyToken === 'string' ? `issue/${ca.arn}/${body.IdempotencyToken}` : undefined;
    const known = token ? this.idempotency.get(token) : undefined;
    if (known) return { CertificateArn: known };
    const csrBytes = blob(body, 'Csr');
    const signing = oneOf(body, 'SigningAlgorithm', SIGNING_ALGORITHMS);
    const validity = required<Record<string, any>>(body, 'Validity');
    const templateArn = String(body.TemplateArn ?? END_ENTITY_TEMPLATE);
    const template = TEMPLATES[templateArn as keyof typeof TEMPLATES];
    if (!template)
      throw pcaError(
        'InvalidArgsException',
        `The local Private CA serves the templates ${Object.keys(TEMPLATES).join(', ')}, not ${templateArn}.`,
      );
    if (!compatible(ca.key.algorithm, signing))
      throw pcaError(
        'InvalidArgsException',
        `SigningAlgorithm ${signing} cannot be used with this CA's ${ca.key.algorithm} key.`,
      );
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrBytes.toString('utf8'));
    } catch (error) {
      throw pcaError('MalformedCSRException', `The CSR is not a PEM PKCS #10 request: ${(error as Error).message}`);
    }
    if (!(await csr.verify().catch(() => false)))
      throw pcaError('MalformedCSRException', "The CSR's signature does not verify with its own public key.");
    const publicKey = csr.publicKey.rawData;
    const root = templateArn === ROOT_TEMPLATE;
    if (root) {
      if (ca.type !== 'ROOT')
        throw pcaError('InvalidArgsException', 'RootCACertificate/V1 issues only a ROOT CA its own certificate.');
      if (!sameKey(publicKey, ca.key.spki))
        throw pcaError(
          'InvalidArgsException',
          "RootCACertificate/V1 signs only the CA's own CSR (GetCertificateAuthorityCsr).",
        );
    } else if (ca.status !== 'ACTIVE') {
      throw pcaError(
        'InvalidStateException',
        `The certificate authority is ${ca.status}: import its certificate first.`,
      );
    }
    const now = Date.now();
    const notBefore = new Date(
      body.ValidityNotBefore ? this.notAfter(body.ValidityNotBefore, now).getTime() : now - HOUR,
    );
    const notAfter = this.notAfter(validity, now);
    if (notAfter.getTime() <= now) throw pcaError('InvalidArgsException', 'The validity ends before it starts.');
    if (ca.certificate && !root && notAfter > ca.certificate.notAfter)
      throw pcaError('InvalidArgsException', "The certificate's validity exceeds its CA's certificate validity.");
    const serial = randomBytes(16);
    serial[0] = (serial[0] as number) & 0x7f;
    const serialNumber = serial.toString('hex');
    const subjectKeyId = keyIdentifier(publicKey);
    const certificate = await ca.key.certificate({
      serialNumber,
      subject: csr.subjectName,
      issuer: root ? ca.subject : (ca.certificate as x509.X509Certificate).subjectName,
      publicKey,
      notBefore,
      notAfter,
      extensions: template(subjectKeyId, keyIdentifier(ca.key.spki)),
      signing,
    });
    const arn = `${ca.arn}/certificate/${serialNumber}`;
    const chain = ca.certificate ? [ca.certificate.toString('pem'), ca.chain].filter(Boolean).join('\n') : undefined;
    ca.issued.set(arn, { pem: certificate.toString('pem'), ...(chain ? { chain } : {}), reads: 0 });
    if (token) this.idempotency.set(token, arn);
    return { CertificateArn: arn };
  }

  getCertificate(body: Record<string, any>) {
    const ca = this.authority(body.CertificateAuthorityArn);
    const arn = required<string>(body, 'CertificateArn', 'certificateArn');
    if (!arn.startsWith(`${ca.arn}/certificate/`) || !/\/certificate\/[0-9a-f]+$/.test(arn))
      throw pcaError('InvalidArnException', `The ARN is not a certificate of ${ca.arn}: ${arn}`);
    const issued = ca.issued.get(arn);
    if (!issued) throw pcaError('ResourceNotFoundException', `Could not find certificate ${arn}.`);
    if (issued.reads++ === 0)
      throw pcaError('RequestInProgressException', 'The certificate is being issued: wait, then ask again.');
    return { Certificate: issued.pem, ...(issued.chain ? { CertificateChain: issued.chain } : {}) };
  }

  async importCertificateAuthorityCertificate(body: Record<string, any>) {
    const ca = this.authority(body.CertificateAuthorityArn);
    const certificate = parseCertificate(blob(body, 'Certificate'));
    if (!certificate)
      throw pcaError('MalformedCertificateException', 'The certificate is not a PEM X.509 certificate.');
    if (!sameKey(certificate.publicKey.rawData, ca.key.spki))
      throw pcaError('CertificateMismatchException', "The certificate's public key is not this CA's (sign its CSR).");
    const constraints = certificate.getExtension(x509.BasicConstraintsExtension);
    if (!constraints?.ca)
      throw pcaError('MalformedCertificateException', 'The certificate is not a CA certificate (CA:TRUE).');
    const node = new NodeCertificate(Buffer.from(certificate.rawData));
    let chain: string | undefined;
    if (ca.type === 'ROOT') {
      if (body.CertificateChain !== undefined)
        throw pcaError('InvalidRequestException', "A ROOT CA's certificate is imported without a chain.");
      if (!node.checkIssued(node) || !node.verify(node.publicKey))
        throw pcaError('InvalidRequestException', "A ROOT CA's certificate must be self-signed.");
    } else {
      if (body.CertificateChain === undefined)
        throw pcaError('InvalidRequestException', "A SUBORDINATE CA's certificate needs the chain of its issuer.");
      chain = blob(body, 'CertificateChain').toString('utf8').trim();
      const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(chain)?.[0];
      const issuer = first ? parseCertificate(Buffer.from(first)) : undefined;
      if (!issuer)
        throw pcaError('MalformedCertificateException', 'The certificate chain is not PEM X.509 certificates.');
      const issuerNode = new NodeCertificate(Buffer.from(issuer.rawData));
      if (!node.checkIssued(issuerNode) || !node.verify(issuerNode.publicKey))
        throw pcaError('InvalidRequestException', "The certificate is not signed by the chain's first certificate.");
    }
    ca.certificate = certificate;
    if (chain) ca.chain = chain;
    ca.status = 'ACTIVE';
    ca.changed = Date.now();
    return {};
  }

  getCertificateAuthorityCertificate(body: Record<string, any>) {
    const ca = this.authority(body.CertificateAuthorityArn);
    if (ca.status !== 'ACTIVE' || !ca.certificate)
      throw pcaError('InvalidStateException', `The certificate authority is ${ca.status}: it has no certificate yet.`);
    return { Certificate: ca.certificate.toString('pem'), ...(ca.chain ? { CertificateChain: ca.chain } : {}) };
  }
}
