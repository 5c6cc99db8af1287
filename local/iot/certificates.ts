/**
 * Device certificates (docs/aws-iot-rules.md, "Device certificates"): RegisterCertificate,
 * DescribeCertificate, UpdateCertificate and ListCertificatesByCA, and the PENDING_ACTIVATION
 * registration JITP makes on a device's first connection. Certificates are read with Node's
 * X509Certificate (OpenSSL): the pipeline never reads device certificates, so there is no second
 * reading to keep apart from.
 */
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import type { CaRecord } from './ca-certificates.ts';
import { certificateInvalid, iotError, invalid, notFound } from './errors.ts';
import { inCreationOrder, ListingCache, pageOf, pageSizeOf } from './paging.ts';
import type { RecordStore } from './store.ts';
import type { AccountContext } from './templates.ts';

export type CertificateStatus =
  | 'ACTIVE'
  | 'INACTIVE'
  | 'REVOKED'
  | 'PENDING_TRANSFER'
  | 'REGISTER_INACTIVE'
  | 'PENDING_ACTIVATION';

export interface CertificateRecord {
  certificateId: string;
  certificateArn: string;
  caCertificateId?: string;
  status: CertificateStatus;
  certificatePem: string;
  ownedBy: string;
  creationDate: number;
  lastModifiedDate: number;
  customerVersion: number;
  generationId: string;
  validity: { notBefore: number; notAfter: number };
  certificateMode: 'DEFAULT' | 'SNI_ONLY';
  sequence: number;
}

const MAX_CERT_CHARS = 65536;
const CERTIFICATE_ID = /^(0x)?[a-fA-F0-9]{64}$/;
/** What UpdateCertificate may set (the others are states AWS moves a certificate into itself). */
const SETTABLE = new Set(['ACTIVE', 'INACTIVE', 'REVOKED']);

/** A certificate's id as AWS computes it: the SHA-256 of its DER, hex. */
export const certificateIdOf = (der: Buffer): string => createHash('sha256').update(der).digest('hex');

/** The one certificate of a PEM text, or a CertificateValidationException. */
export const parsePem = (pem: string, role: string): X509Certificate => {
  try {
    return new X509Certificate(pem);
  } catch {
    throw certificateInvalid(`The ${role} could not be parsed as an X.509 certificate.`);
  }
};

/** Whether `ca` issued `device`: names chain and the signature verifies with the CA's key. */
export const issuedBy = (device: X509Certificate, ca: X509Certificate): boolean => {
  try {
    return device.checkIssued(ca) && device.verify(ca.publicKey);
  } catch {
    return false;
  }
};

export class DeviceCertificates {
  private sequence: number;
  /** ListCertificatesByCA's sorted records by CA and order, until the next save. */
  private readonly listings = new ListingCache<CertificateRecord>();

  constructor(
    private readonly records: Map<string, CertificateRecord>,
    private readonly store: RecordStore<CertificateRecord>,
    private readonly context: AccountContext & {
      /** The registered CA that issued `device`, if any (DEFAULT-mode CAs first, as AWS matches them). */
      issuerOf: (device: X509Certificate, caPem?: string) => CaRecord | undefined;
    },
  ) {
    this.sequence = Math.max(0, ...[...records.values()].map((record) => record.sequence));
  }

  arn(id: string): string {
    return `arn:aws:iot:${this.context.region}:${this.context.account}:cert/${id}`;
  }

  find(certificateId: string): CertificateRecord | undefined {
    return this.records.get(certificateId);
  }

  private save(record: CertificateRecord): void {
    this.context.track(this.store.put(record.certificateId, record));
    this.records.set(record.certificateId, record);
    this.listings.changed();
  }

  private get(certificateId: string): CertificateRecord {
    if (!CERTIFICATE_ID.test(certificateId))
      throw invalid(`The certificateId ${certificateId} is not 64 hexadecimal characters.`);
    const record = this.records.get(certificateId);
    if (!record) throw notFound(`The certificate ${certificateId} does not exist.`);
    return record;
  }

  /** A new record for `certificate` (not yet saved). */
  private recordOf(
    certificate: X509Certificate,
    pem: string,
    status: CertificateStatus,
    ca: CaRecord | undefined,
  ): CertificateRecord {
    const certificateId = certificateIdOf(certificate.raw);
    const epoch = this.context.epoch();
    return {
      certificateId,
      certificateArn: this.arn(certificateId),
      ...(ca ? { caCertificateId: ca.certificateId } : {}),
      status,
      certificatePem: pem,
      ownedBy: this.context.account,
      creationDate: epoch,
      lastModifiedDate: epoch,
      customerVersion: 1,
      generationId: randomUUID(),
      validity: {
        notBefore: Date.parse(certificate.validFrom) / 1000,
        notAfter: Date.parse(certificate.validTo) / 1000,
      },
      certificateMode: ca?.certificateMode ?? 'DEFAULT',
      sequence: ++this.sequence,
    };
  }

  /** JITP's first step: an unknown certificate of an ACTIVE, auto-registering CA, PENDING_ACTIVATION. */
  registerPending(certificate: X509Certificate, ca: CaRecord): CertificateRecord {
    const record = this.recordOf(certificate, certificate.toString(), 'PENDING_ACTIVATION', ca);
    this.save(record);
    return record;
  }

  /** Sets a status on the account's behalf (JITP's Certificate resource). */
  setStatus(certificateId: string, status: CertificateStatus): void {
    const record = this.get(certificateId);
    this.save({
      ...record,
      status,
      lastModifiedDate: this.context.epoch(),
      customerVersion: record.customerVersion + 1,
    });
  }

  register(
    query: { setAsActive?: string },
    body: { certificatePem?: string; caCertificatePem?: string; status?: string },
  ): { certificateArn: string; certificateId: string } {
    const pem = body.certificatePem ?? '';
    if (pem.length < 1 || pem.length > MAX_CERT_CHARS) throw invalid('certificatePem must be 1-65536 characters.');
    if ((body.caCertificatePem ?? '').length > MAX_CERT_CHARS)
      throw invalid('caCertificatePem must be at most 65536 characters.');
    const status = body.status ?? (query.setAsActive === 'true' ? 'ACTIVE' : 'INACTIVE');
    if (!SETTABLE.has(status)) throw invalid(`Invalid status: ${status}`);
    const certificate = parsePem(pem, 'certificate');
    if (certificate.ca) throw certificateInvalid('The certificate is a CA certificate; register it as a CA.');
    const now = this.context.epoch() * 1000;
    if (now < Date.parse(certificate.validFrom) || now > Date.parse(certificate.validTo))
      throw certificateInvalid('The certificate is not within its validity period.');
    const ca = this.context.issuerOf(certificate, body.caCertificatePem);
    if (!ca) throw certificateInvalid('The certificate is not signed by a CA certificate registered in this account.');
    const existing = this.records.get(certificateIdOf(certificate.raw));
    if (existing) {
      throw iotError('ResourceAlreadyExistsException', 'The certificate is already registered.', {
        resourceId: existing.certificateId,
        resourceArn: existing.certificateArn,
      });
    }
    const record = this.recordOf(certificate, pem, status as CertificateStatus, ca);
    this.save(record);
    return { certificateArn: record.certificateArn, certificateId: record.certificateId };
  }

  describe(certificateId: string) {
    const { sequence: _sequence, ...description } = this.get(certificateId);
    return { certificateDescription: description };
  }

  update(certificateId: string, query: { newStatus?: string }): Record<string, never> {
    const record = this.get(certificateId);
    const status = query.newStatus ?? '';
    if (status === 'REGISTER_INACTIVE') throw invalid('REGISTER_INACTIVE is deprecated and not accepted.');
    if (!SETTABLE.has(status)) throw invalid(`Invalid newStatus: ${status}; use ACTIVE, INACTIVE or REVOKED.`);
    if (record.status === 'REVOKED' && status !== 'REVOKED')
      throw iotError('CertificateStateException', 'A REVOKED certificate cannot change status.');
    if (record.status === 'PENDING_TRANSFER')
      throw iotError('CertificateStateException', 'A certificate pending transfer cannot change status.');
    this.setStatus(certificateId, status as CertificateStatus);
    return {};
  }

  listByCa(caCertificateId: string, query: { pageSize?: string; marker?: string; isAscendingOrder?: string }) {
    if (!CERTIFICATE_ID.test(caCertificateId))
      throw invalid(`The caCertificateId ${caCertificateId} is not 64 hexadecimal characters.`);
    const ascending = query.isAscendingOrder === 'true';
    const id = `${ascending}\n${caCertificateId}`;
    const items = this.listings.get(id, () =>
      [...this.records.values()]
        .filter((record) => record.caCertificateId === caCertificateId)
        .sort(inCreationOrder(ascending)),
    );
    const { page, next } = pageOf(items, query.marker, pageSizeOf(query.pageSize, 'pageSize'));
    return {
      certificates: page.map((record) => ({
        certificateArn: record.certificateArn,
        certificateId: record.certificateId,
        status: record.status,
        certificateMode: record.certificateMode,
        creationDate: record.creationDate,
      })),
      ...(next ? { nextMarker: next } : {}),
    };
  }
}
