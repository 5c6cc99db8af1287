/**
 * CA certificates (AWS-IOT-RULES.md): RegisterCACertificate, DescribeCACertificate,
 * UpdateCACertificate, DeleteCACertificate and ListCACertificates over the account's records.
 */
import { randomUUID } from 'node:crypto';
import { checkCaCertificate, checkPossession } from './certificate-rules.ts';
import { iotError, invalid, limitExceeded, notFound } from './errors.ts';
import { inCreationOrder, ListingCache, pageOf, pageSizeOf } from './paging.ts';
import type { RecordStore } from './store.ts';
import { type TagList, type Taggable, tagsOf, validateTags } from './tags.ts';
import type { AccountContext, ProvisioningTemplates } from './templates.ts';

export interface CaRecord {
  certificateId: string;
  certificateArn: string;
  certificatePem: string;
  subject: string;
  status: 'ACTIVE' | 'INACTIVE';
  autoRegistrationStatus: 'ENABLE' | 'DISABLE';
  certificateMode: 'DEFAULT' | 'SNI_ONLY';
  ownedBy: string;
  creationDate: number;
  lastModifiedDate: number;
  customerVersion: number;
  generationId: string;
  validity: { notBefore: number; notAfter: number };
  registrationConfig?: { templateBody?: string; roleArn?: string; templateName?: string };
  tags: Record<string, string>;
  /** Orders CAs created within the same millisecond. */
  sequence: number;
}

export interface RegisterInput {
  caCertificate?: string;
  verificationCertificate?: string;
  certificateMode?: string;
  setAsActive?: boolean;
  allowAutoRegistration?: boolean;
  registrationConfig?: CaRecord['registrationConfig'];
  tags?: TagList;
}

const MAX_CERT_CHARS = 65536;
const MAX_CAS_PER_SUBJECT = 10;
/** The model's CertificateId: 64 characters of `(0x)?[a-fA-F0-9]+`. */
const CERTIFICATE_ID = /^(0x)?[a-fA-F0-9]+$/;

export class CaCertificates {
  private sequence: number;
  /** ListCACertificates' sorted (and filtered) records by query, until the next save or delete. */
  private readonly listings = new ListingCache<CaRecord>();

  constructor(
    private readonly records: Map<string, CaRecord>,
    private readonly store: RecordStore<CaRecord>,
    private readonly templates: ProvisioningTemplates,
    private readonly context: AccountContext & {
      now: () => Date;
      registrationCode: () => string | undefined;
      onSaved: (record: CaRecord) => void;
    },
  ) {
    this.sequence = Math.max(0, ...[...records.values()].map((ca) => ca.sequence));
  }

  arn(id: string): string {
    return `arn:aws:iot:${this.context.region}:${this.context.account}:cacert/${id}`;
  }

  private save(record: CaRecord): void {
    this.context.track(this.store.put(record.certificateId, record));
    this.records.set(record.certificateId, record);
    this.listings.changed();
    this.context.onSaved(record);
  }

  private get(certificateId: string): CaRecord {
    if (certificateId.length !== 64 || !CERTIFICATE_ID.test(certificateId))
      throw invalid(`The certificateId ${certificateId} is not 64 hexadecimal characters.`);
    const record = this.records.get(certificateId);
    if (!record) throw notFound(`The CA certificate ${certificateId} does not exist.`);
    return record;
  }

  /** The CA behind `arn`, for the tag operations; undefined when there is none. */
  taggable(arn: string): Taggable | undefined {
    const id = /:cacert\/([0-9a-f]{64})$/.exec(arn)?.[1];
    const record = id ? this.records.get(id) : undefined;
    if (!record || record.certificateArn !== arn) return undefined;
    return { tags: record.tags, save: (tags) => this.save({ ...record, tags }) };
  }

  async register(input: RegisterInput): Promise<{ certificateArn: string; certificateId: string }> {
    const caPem = input.caCertificate ?? '';
    if (caPem.length < 1 || caPem.length > MAX_CERT_CHARS) throw invalid('caCertificate must be 1-65536 characters.');
    if ((input.verificationCertificate ?? '').length > MAX_CERT_CHARS)
      throw invalid('verificationCertificate must be at most 65536 characters.');
    const mode = input.certificateMode ?? 'DEFAULT';
    if (mode !== 'DEFAULT' && mode !== 'SNI_ONLY') throw invalid(`Invalid certificateMode: ${mode}`);
    const now = this.context.now();
    const ca = await checkCaCertificate(caPem, now);
    if (mode === 'DEFAULT') {
      if (!input.verificationCertificate) throw invalid('verificationCertificate is required in DEFAULT mode.');
      await checkPossession(ca.certificate, input.verificationCertificate, this.context.registrationCode(), now);
    } else if (input.verificationCertificate) {
      throw invalid('verificationCertificate must not be provided in SNI_ONLY mode.');
    }
    // From here on nothing awaits: the checks below and the write see one state of the account.
    const existing = this.records.get(ca.certificateId);
    if (existing) {
      throw iotError('ResourceAlreadyExistsException', 'The certificate is already registered.', {
        resourceId: existing.certificateId,
        resourceArn: existing.certificateArn,
      });
    }
    const sameSubject = [...this.records.values()].filter((record) => record.subject === ca.subject).length;
    if (sameSubject >= MAX_CAS_PER_SUBJECT)
      throw limitExceeded(`At most ${MAX_CAS_PER_SUBJECT} CA certificates with the same subject may be registered.`);
    if (input.registrationConfig?.templateName) this.templates.requireJitp(input.registrationConfig.templateName);
    const tags = tagsOf(input.tags);
    validateTags(tags);
    const epoch = this.context.epoch();
    const record: CaRecord = {
      certificateId: ca.certificateId,
      certificateArn: this.arn(ca.certificateId),
      certificatePem: caPem,
      subject: ca.subject,
      status: input.setAsActive ? 'ACTIVE' : 'INACTIVE',
      autoRegistrationStatus: input.allowAutoRegistration ? 'ENABLE' : 'DISABLE',
      certificateMode: mode,
      ownedBy: this.context.account,
      creationDate: epoch,
      lastModifiedDate: epoch,
      customerVersion: 1,
      generationId: randomUUID(),
      validity: { notBefore: ca.notBefore.getTime() / 1000, notAfter: ca.notAfter.getTime() / 1000 },
      ...(input.registrationConfig ? { registrationConfig: input.registrationConfig } : {}),
      tags,
      sequence: ++this.sequence,
    };
    this.save(record);
    return { certificateArn: record.certificateArn, certificateId: record.certificateId };
  }

  describe(certificateId: string) {
    const ca = this.get(certificateId);
    return {
      certificateDescription: {
        certificateArn: ca.certificateArn,
        certificateId: ca.certificateId,
        status: ca.status,
        certificatePem: ca.certificatePem,
        ownedBy: ca.ownedBy,
        creationDate: ca.creationDate,
        autoRegistrationStatus: ca.autoRegistrationStatus,
        lastModifiedDate: ca.lastModifiedDate,
        customerVersion: ca.customerVersion,
        generationId: ca.generationId,
        validity: ca.validity,
        certificateMode: ca.certificateMode,
      },
      ...(ca.registrationConfig ? { registrationConfig: ca.registrationConfig } : {}),
    };
  }

  update(
    certificateId: string,
    query: { newStatus?: string; newAutoRegistrationStatus?: string },
    body: { registrationConfig?: CaRecord['registrationConfig']; removeAutoRegistration?: boolean },
  ): Record<string, never> {
    const ca = this.get(certificateId);
    if (query.newStatus === 'REGISTER_INACTIVE') throw invalid('REGISTER_INACTIVE is deprecated and not accepted.');
    if (query.newStatus !== undefined && query.newStatus !== 'ACTIVE' && query.newStatus !== 'INACTIVE')
      throw invalid(`Invalid newStatus: ${query.newStatus}`);
    const autoRegistration = query.newAutoRegistrationStatus;
    if (autoRegistration !== undefined && autoRegistration !== 'ENABLE' && autoRegistration !== 'DISABLE')
      throw invalid(`Invalid newAutoRegistrationStatus: ${autoRegistration}`);
    if (body.registrationConfig && body.removeAutoRegistration)
      throw invalid('registrationConfig and removeAutoRegistration are exclusive.');
    if (body.registrationConfig?.templateName) this.templates.requireJitp(body.registrationConfig.templateName);
    const updated: CaRecord = {
      ...ca,
      ...(query.newStatus ? { status: query.newStatus as CaRecord['status'] } : {}),
      ...(autoRegistration ? { autoRegistrationStatus: autoRegistration } : {}),
      ...(body.registrationConfig ? { registrationConfig: body.registrationConfig } : {}),
      customerVersion: ca.customerVersion + 1,
      generationId: randomUUID(),
      lastModifiedDate: this.context.epoch(),
    };
    if (body.removeAutoRegistration) delete updated.registrationConfig;
    this.save(updated);
    return {};
  }

  delete(certificateId: string): Record<string, never> {
    const ca = this.get(certificateId);
    if (ca.status === 'ACTIVE')
      throw iotError('CertificateStateException', 'An ACTIVE CA certificate cannot be deleted; set it INACTIVE first.');
    this.context.track(this.store.delete(certificateId));
    this.records.delete(certificateId);
    this.listings.changed();
    return {};
  }

  list(query: { pageSize?: string; marker?: string; isAscendingOrder?: string; templateName?: string }) {
    const pageSize = pageSizeOf(query.pageSize, 'pageSize');
    const ascending = query.isAscendingOrder === 'true';
    const id = `${ascending}\n${query.templateName ?? ''}`;
    const items = this.listings.get(id, () => {
      let all = [...this.records.values()];
      if (query.templateName) all = all.filter((ca) => ca.registrationConfig?.templateName === query.templateName);
      return all.sort(inCreationOrder(ascending));
    });
    const { page, next } = pageOf(items, query.marker, pageSize);
    return {
      certificates: page.map((ca) => ({
        certificateArn: ca.certificateArn,
        certificateId: ca.certificateId,
        status: ca.status,
        creationDate: ca.creationDate,
      })),
      ...(next ? { nextMarker: next } : {}),
    };
  }

  snapshot(): CaRecord[] {
    return [...this.records.values()];
  }
}
