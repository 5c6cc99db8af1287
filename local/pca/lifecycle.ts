/**
 * The lifecycle of the Private CA emulator's certificate authorities (ROOT and SUBORDINATE): the
 * record of each CA and the operations that make, list and describe CAs and import their
 * certificates. Of AWS's path to a root CA (Create → GetCertificateAuthorityCsr → IssueCertificate
 * with RootCACertificate/V1 → ImportCertificateAuthorityCertificate → ACTIVE), every step but
 * IssueCertificate is here; PcaService (service.ts) adds issuance. Keys and certificates live in
 * memory only (docs/adr/0022-kms-and-private-ca-keys-in-memory.md).
 */
import { randomUUID, X509Certificate as NodeCertificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { blob, oneOf, required } from '../json11.ts';
import { pcaError } from './errors.ts';
import {
  type CaKey,
  compatible,
  createCaKey,
  KEY_ALGORITHMS,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
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

export const sameKey = (a: ArrayBuffer, b: ArrayBuffer) => Buffer.from(a).equals(Buffer.from(b));

export class CertificateAuthorityLifecycle {
  private readonly authorities = new Map<string, Authority>();
  protected readonly idempotency = new Map<string, string>();

  constructor(
    readonly region: string,
    readonly account: string,
  ) {}

  protected authority(arn: unknown): Authority {
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
