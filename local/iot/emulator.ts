/**
 * An emulator of the AWS IoT control-plane calls the pipeline makes, faithful to
 * shared/AWS-IOT-RULES.md: real X.509 checks, a stable registration code, 409/410/406 errors,
 * tag limits, JITP templates, quotas and injected faults. Its state persists on disk.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { writeFileAtomic, RecordStore } from './store.ts';
import {
  checkKey,
  checkSignatureAlgorithm,
  isSignedBy,
  parseCertificate,
  type ParsedCertificate,
} from '../../functions/core/certificate.ts';
import { parsePemBlocks } from '../../functions/core/pem.ts';
import { isPipelineError } from '../../functions/core/errors.ts';
import { readFileSync, existsSync, mkdirSync } from 'node:fs';

/** An error as AWS IoT returns it: name (x-amzn-ErrorType), HTTP status, message, extra fields. */
export class IotError extends Error {
  constructor(
    override readonly name: string,
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const invalid = (message: string) => new IotError('InvalidRequestException', 400, message);
const notFound = (message: string) => new IotError('ResourceNotFoundException', 404, message);

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

export interface TemplateRecord {
  templateName: string;
  templateArn: string;
  description?: string;
  templateBody: string;
  enabled: boolean;
  provisioningRoleArn: string;
  type: 'FLEET_PROVISIONING' | 'JITP';
  creationDate: number;
  lastModifiedDate: number;
  defaultVersionId: number;
  tags: Record<string, string>;
}

export type Operation =
  | 'GetRegistrationCode'
  | 'DeleteRegistrationCode'
  | 'RegisterCACertificate'
  | 'DescribeCACertificate'
  | 'UpdateCACertificate'
  | 'DeleteCACertificate'
  | 'ListCACertificates'
  | 'TagResource'
  | 'UntagResource'
  | 'ListTagsForResource'
  | 'CreateProvisioningTemplate'
  | 'DescribeProvisioningTemplate'
  | 'ListProvisioningTemplates';

/** AWS's published control-plane quota for the CA calls (AWS-IOT-RULES.md "Throttling"). */
export const AWS_DEFAULT_TPS = 10;

export interface FaultSettings {
  /** Requests per second per operation; undefined = no quota (the default, as most tests want). */
  tps?: number | Partial<Record<Operation, number>>;
  /** Share of calls answered ThrottlingException regardless of quota, 0–1. */
  throttleRate?: number;
  /** Share of calls answered 500/503, 0–1. */
  faultRate?: number;
  /** Added latency per call, ms. */
  latencyMs?: number;
}

export interface EmulatorOptions {
  stateDir: string;
  region?: string;
  account?: string;
  faults?: FaultSettings;
  now?: () => Date;
  random?: () => number;
}

const MAX_CERT_CHARS = 65536;
const MAX_CAS_PER_SUBJECT = 10;
const MAX_TAGS = 50;
const TEMPLATE_NAME = /^[0-9A-Za-z_-]{1,36}$/;
const JITP_PARAMETERS = new Set(
  [
    'Country',
    'Organization',
    'OrganizationalUnit',
    'DistinguishedNameQualifier',
    'StateName',
    'CommonName',
    'SerialNumber',
    'Id',
  ].map((name) => `AWS::IoT::Certificate::${name}`),
);
const TEMPLATE_RESOURCE_TYPES = new Set(['AWS::IoT::Thing', 'AWS::IoT::Certificate', 'AWS::IoT::Policy']);

/** A token bucket per operation: capacity = TPS, refilled continuously. */
class Quota {
  private tokens: number;
  private last: number;
  constructor(
    private readonly tps: number,
    now: number,
  ) {
    this.tokens = tps;
    this.last = now;
  }
  take(now: number): boolean {
    this.tokens = Math.min(this.tps, this.tokens + ((now - this.last) / 1000) * this.tps);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export class IotEmulator {
  readonly region: string;
  readonly account: string;
  faults: FaultSettings;
  /** Calls received, by operation (admitted or not). */
  readonly calls = new Map<Operation, number>();
  /** Calls admitted past the quota and injected faults, by operation: what the quota floor counts. */
  readonly admitted = new Map<Operation, number>();
  /** Called with each CA record as it changes in memory (its write to disk follows; a response waits for it). */
  onCaSaved: ((record: CaRecord) => void) | undefined;
  private readonly cas: Map<string, CaRecord>;
  private readonly templates: Map<string, TemplateRecord>;
  private readonly caStore: RecordStore<CaRecord>;
  private readonly templateStore: RecordStore<TemplateRecord>;
  private readonly codePath: string;
  private registrationCode: string | undefined;
  private readonly quotas = new Map<Operation, Quota>();
  private sequence = 0;
  private readonly now: () => Date;
  private readonly random: () => number;

  constructor(options: EmulatorOptions) {
    this.region = options.region ?? 'us-east-1';
    this.account = options.account ?? '000000000000';
    this.faults = options.faults ?? {};
    this.now = options.now ?? (() => new Date());
    this.random = options.random ?? Math.random;
    const dir = join(options.stateDir, 'iot');
    mkdirSync(dir, { recursive: true });
    this.caStore = new RecordStore<CaRecord>(join(dir, 'cacertificates'));
    this.templateStore = new RecordStore<TemplateRecord>(join(dir, 'provisioning-templates'));
    this.cas = this.caStore.loadAll();
    this.templates = this.templateStore.loadAll();
    this.sequence = Math.max(0, ...[...this.cas.values()].map((ca) => ca.sequence));
    this.codePath = join(dir, 'registration-code.json');
    this.registrationCode = existsSync(this.codePath)
      ? (JSON.parse(readFileSync(this.codePath, 'utf8')) as { code: string }).code
      : undefined;
  }

  // ---- Persistence: the state in memory is the truth; the disk follows, write by write ----

  private readonly inFlight = new Set<Promise<void>>();
  private started: Array<Promise<void>> = [];

  private track(write: Promise<void>): void {
    const settled = write.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
    this.started.push(write);
  }

  /**
   * The writes started since the last call: the server takes them right after an operation (which
   * runs synchronously) and answers only once they are on disk, or fails the request if one failed.
   */
  takeWrites(): Array<Promise<void>> {
    const writes = this.started;
    this.started = [];
    return writes;
  }

  /** Resolves when every write started so far has settled (before a restart or a stop). */
  async flush(): Promise<void> {
    this.started = [];
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Quota and injected faults, applied before an operation runs. */
  admit(operation: Operation): void {
    this.calls.set(operation, (this.calls.get(operation) ?? 0) + 1);
    const { tps, throttleRate = 0, faultRate = 0 } = this.faults;
    const limit = typeof tps === 'number' ? tps : tps?.[operation];
    if (limit !== undefined) {
      const quota = this.quotas.get(operation) ?? new Quota(limit, Date.now());
      this.quotas.set(operation, quota);
      if (!quota.take(Date.now())) throw new IotError('ThrottlingException', 400, `Rate exceeded for ${operation}`);
    }
    if (throttleRate > 0 && this.random() < throttleRate)
      throw new IotError('ThrottlingException', 400, 'Rate exceeded (injected)');
    if (faultRate > 0 && this.random() < faultRate) {
      throw this.random() < 0.5
        ? new IotError('ServiceUnavailableException', 503, 'Service unavailable (injected)')
        : new IotError('InternalFailureException', 500, 'Internal failure (injected)');
    }
    this.admitted.set(operation, (this.admitted.get(operation) ?? 0) + 1);
  }

  resetQuotas(): void {
    this.quotas.clear();
  }

  private epoch(): number {
    return this.now().getTime() / 1000;
  }

  caArn(id: string): string {
    return `arn:aws:iot:${this.region}:${this.account}:cacert/${id}`;
  }

  private templateArn(name: string): string {
    return `arn:aws:iot:${this.region}:${this.account}:provisioningtemplate/${name}`;
  }

  // ---- Registration code ----

  getRegistrationCode(): { registrationCode: string } {
    if (!this.registrationCode) {
      this.registrationCode = randomBytes(32).toString('hex');
      this.track(writeFileAtomic(this.codePath, JSON.stringify({ code: this.registrationCode })));
    }
    return { registrationCode: this.registrationCode };
  }

  deleteRegistrationCode(): Record<string, never> {
    this.registrationCode = undefined;
    this.track(writeFileAtomic(this.codePath, JSON.stringify({ code: null })));
    return {};
  }

  // ---- CA certificates ----

  private parseOne(pem: string, role: string): ParsedCertificate {
    let blocks: ReturnType<typeof parsePemBlocks>;
    try {
      blocks = parsePemBlocks(pem).filter((block) => block.label === 'CERTIFICATE');
    } catch (error) {
      throw new IotError(
        'CertificateValidationException',
        400,
        `The ${role} is not a valid certificate: ${isPipelineError(error) ? error.message : 'unparseable'}`,
      );
    }
    if (blocks.length !== 1)
      throw new IotError('CertificateValidationException', 400, `The ${role} must contain exactly one certificate.`);
    try {
      return parseCertificate(blocks[0] as never, role);
    } catch {
      throw new IotError('CertificateValidationException', 400, `The ${role} could not be parsed.`);
    }
  }

  private checkTemplateForCa(config: CaRecord['registrationConfig']): void {
    if (!config?.templateName) return;
    if (!TEMPLATE_NAME.test(config.templateName)) throw invalid(`Invalid templateName: ${config.templateName}`);
    const template = this.templates.get(config.templateName);
    if (!template) throw notFound(`The provisioning template ${config.templateName} does not exist.`);
    if (template.type !== 'JITP')
      throw invalid(`The provisioning template ${config.templateName} is not a JITP template.`);
  }

  private validateTags(tags: Record<string, string>): void {
    if (Object.keys(tags).length > MAX_TAGS) throw invalid(`A resource can have at most ${MAX_TAGS} tags.`);
    for (const [key, value] of Object.entries(tags)) {
      if (key.length < 1 || key.length > 128) throw invalid(`Tag key length must be 1-128: ${key}`);
      if (value.length > 256) throw invalid(`Tag value length must be at most 256 for key ${key}`);
      if (key.toLowerCase().startsWith('aws:')) throw invalid('Tag keys starting with aws: are reserved.');
    }
  }

  registerCaCertificate(input: {
    caCertificate?: string;
    verificationCertificate?: string;
    certificateMode?: string;
    setAsActive?: boolean;
    allowAutoRegistration?: boolean;
    registrationConfig?: CaRecord['registrationConfig'];
    tags?: Array<{ Key?: string; Value?: string }>;
  }): { certificateArn: string; certificateId: string } {
    const caPem = input.caCertificate ?? '';
    if (caPem.length < 1 || caPem.length > MAX_CERT_CHARS) throw invalid('caCertificate must be 1-65536 characters.');
    if ((input.verificationCertificate ?? '').length > MAX_CERT_CHARS)
      throw invalid('verificationCertificate must be at most 65536 characters.');
    const mode = input.certificateMode ?? 'DEFAULT';
    if (mode !== 'DEFAULT' && mode !== 'SNI_ONLY') throw invalid(`Invalid certificateMode: ${mode}`);
    const ca = this.parseOne(caPem, 'CA certificate');
    const now = this.now();
    if (now < ca.notBefore || now > ca.notAfter)
      throw new IotError(
        'CertificateValidationException',
        400,
        'The CA certificate is not within its validity period.',
      );
    if (!ca.isCa)
      throw new IotError(
        'CertificateValidationException',
        400,
        'The certificate is not a CA certificate (basicConstraints CA:TRUE).',
      );
    try {
      checkKey(ca);
      checkSignatureAlgorithm(ca);
    } catch (error) {
      throw new IotError('CertificateValidationException', 400, (error as Error).message);
    }
    if (mode === 'DEFAULT') {
      if (!input.verificationCertificate) throw invalid('verificationCertificate is required in DEFAULT mode.');
      const verification = this.parseOne(input.verificationCertificate, 'verification certificate');
      const cn = verification.subjectAttributes.find((attr) => attr.name === 'CN')?.value;
      if (!this.registrationCode || cn !== this.registrationCode) {
        throw new IotError(
          'RegistrationCodeValidationException',
          400,
          'The verification certificate CN does not match the registration code.',
        );
      }
      if (!isSignedBy(verification, ca.publicKey)) {
        throw new IotError(
          'CertificateValidationException',
          400,
          'The verification certificate is not signed by the CA certificate.',
        );
      }
      if (now < verification.notBefore || now > verification.notAfter) {
        throw new IotError(
          'CertificateValidationException',
          400,
          'The verification certificate is not within its validity period.',
        );
      }
    } else if (input.verificationCertificate) {
      throw invalid('verificationCertificate must not be provided in SNI_ONLY mode.');
    }
    const existing = this.cas.get(ca.certificateId);
    if (existing) {
      throw new IotError('ResourceAlreadyExistsException', 409, 'The certificate is already registered.', {
        resourceId: existing.certificateId,
        resourceArn: existing.certificateArn,
      });
    }
    const sameSubject = [...this.cas.values()].filter((record) => record.subject === ca.subject).length;
    if (sameSubject >= MAX_CAS_PER_SUBJECT) {
      throw new IotError(
        'LimitExceededException',
        410,
        `At most ${MAX_CAS_PER_SUBJECT} CA certificates with the same subject may be registered.`,
      );
    }
    this.checkTemplateForCa(input.registrationConfig);
    const tags = Object.fromEntries((input.tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
    this.validateTags(tags);
    const epoch = this.epoch();
    const record: CaRecord = {
      certificateId: ca.certificateId,
      certificateArn: this.caArn(ca.certificateId),
      certificatePem: caPem,
      subject: ca.subject,
      status: input.setAsActive ? 'ACTIVE' : 'INACTIVE',
      autoRegistrationStatus: input.allowAutoRegistration ? 'ENABLE' : 'DISABLE',
      certificateMode: mode,
      ownedBy: this.account,
      creationDate: epoch,
      lastModifiedDate: epoch,
      customerVersion: 1,
      generationId: randomUUID(),
      validity: { notBefore: ca.notBefore.getTime() / 1000, notAfter: ca.notAfter.getTime() / 1000 },
      ...(input.registrationConfig ? { registrationConfig: input.registrationConfig } : {}),
      tags,
      sequence: ++this.sequence,
    };
    this.saveCa(record);
    return { certificateArn: record.certificateArn, certificateId: record.certificateId };
  }

  private saveCa(record: CaRecord): void {
    this.track(this.caStore.put(record.certificateId, record));
    this.cas.set(record.certificateId, record);
    this.onCaSaved?.(record);
  }

  private ca(certificateId: string): CaRecord {
    const record = this.cas.get(certificateId);
    if (!record) throw notFound(`The CA certificate ${certificateId} does not exist.`);
    return record;
  }

  describeCaCertificate(certificateId: string) {
    const ca = this.ca(certificateId);
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

  updateCaCertificate(
    certificateId: string,
    query: { newStatus?: string; newAutoRegistrationStatus?: string },
    body: { registrationConfig?: CaRecord['registrationConfig']; removeAutoRegistration?: boolean },
  ): Record<string, never> {
    const ca = this.ca(certificateId);
    if (query.newStatus === 'REGISTER_INACTIVE') throw invalid('REGISTER_INACTIVE is deprecated and not accepted.');
    if (query.newStatus !== undefined && query.newStatus !== 'ACTIVE' && query.newStatus !== 'INACTIVE')
      throw invalid(`Invalid newStatus: ${query.newStatus}`);
    if (
      query.newAutoRegistrationStatus !== undefined &&
      !['ENABLE', 'DISABLE'].includes(query.newAutoRegistrationStatus)
    ) {
      throw invalid(`Invalid newAutoRegistrationStatus: ${query.newAutoRegistrationStatus}`);
    }
    if (body.registrationConfig && body.removeAutoRegistration)
      throw invalid('registrationConfig and removeAutoRegistration are exclusive.');
    this.checkTemplateForCa(body.registrationConfig);
    const updated: CaRecord = {
      ...ca,
      ...(query.newStatus ? { status: query.newStatus as CaRecord['status'] } : {}),
      ...(query.newAutoRegistrationStatus
        ? { autoRegistrationStatus: query.newAutoRegistrationStatus as CaRecord['autoRegistrationStatus'] }
        : {}),
      ...(body.registrationConfig ? { registrationConfig: body.registrationConfig } : {}),
      customerVersion: ca.customerVersion + 1,
      generationId: randomUUID(),
      lastModifiedDate: this.epoch(),
    };
    if (body.removeAutoRegistration) delete updated.registrationConfig;
    this.saveCa(updated);
    return {};
  }

  deleteCaCertificate(certificateId: string): Record<string, never> {
    const ca = this.ca(certificateId);
    if (ca.status === 'ACTIVE')
      throw new IotError(
        'CertificateStateException',
        406,
        'An ACTIVE CA certificate cannot be deleted; set it INACTIVE first.',
      );
    this.track(this.caStore.delete(certificateId));
    this.cas.delete(certificateId);
    return {};
  }

  listCaCertificates(query: { pageSize?: string; marker?: string; isAscendingOrder?: string; templateName?: string }) {
    const pageSize = pageSizeOf(query.pageSize, 'pageSize');
    const ascending = query.isAscendingOrder === 'true';
    let items = [...this.cas.values()];
    if (query.templateName) items = items.filter((ca) => ca.registrationConfig?.templateName === query.templateName);
    items.sort((a, b) => (a.creationDate - b.creationDate || a.sequence - b.sequence) * (ascending ? 1 : -1));
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

  // ---- Tags ----

  private tagged(resourceArn: string | undefined): {
    tags: Record<string, string>;
    save: (tags: Record<string, string>) => void;
  } {
    const arn = resourceArn ?? '';
    const ca = /:cacert\/([0-9a-f]{64})$/.exec(arn);
    if (ca && arn === this.caArn(ca[1] as string)) {
      const record = this.ca(ca[1] as string);
      return { tags: record.tags, save: (tags) => this.saveCa({ ...record, tags }) };
    }
    const template = /:provisioningtemplate\/([0-9A-Za-z_-]+)$/.exec(arn);
    const record = template ? this.templates.get(template[1] as string) : undefined;
    if (record && arn === record.templateArn) {
      return { tags: record.tags, save: (tags) => this.saveTemplate({ ...record, tags }) };
    }
    throw notFound(`The resource ${arn} does not exist.`);
  }

  tagResource(body: { resourceArn?: string; tags?: Array<{ Key?: string; Value?: string }> }): Record<string, never> {
    const resource = this.tagged(body.resourceArn);
    if (!body.tags?.length) throw invalid('tags must not be empty.');
    const tags = { ...resource.tags };
    for (const tag of body.tags) tags[tag.Key ?? ''] = tag.Value ?? '';
    this.validateTags(tags);
    resource.save(tags);
    return {};
  }

  untagResource(body: { resourceArn?: string; tagKeys?: string[] }): Record<string, never> {
    const resource = this.tagged(body.resourceArn);
    const tags = { ...resource.tags };
    for (const key of body.tagKeys ?? []) delete tags[key];
    resource.save(tags);
    return {};
  }

  listTagsForResource(query: { resourceArn?: string; nextToken?: string }) {
    const { page, next } = pageOf(Object.entries(this.tagged(query.resourceArn).tags), query.nextToken, 25);
    return { tags: page.map(([Key, Value]) => ({ Key, Value })), ...(next ? { nextToken: next } : {}) };
  }

  // ---- Provisioning templates ----

  private saveTemplate(record: TemplateRecord): void {
    this.track(this.templateStore.put(record.templateName, record));
    this.templates.set(record.templateName, record);
  }

  createProvisioningTemplate(body: {
    templateName?: string;
    description?: string;
    templateBody?: string;
    enabled?: boolean;
    provisioningRoleArn?: string;
    type?: string;
    tags?: Array<{ Key?: string; Value?: string }>;
  }) {
    const name = body.templateName ?? '';
    if (!TEMPLATE_NAME.test(name)) throw invalid(`Invalid templateName: ${name}`);
    if (this.templates.has(name)) {
      throw new IotError('ResourceAlreadyExistsException', 409, `The provisioning template ${name} already exists.`, {
        resourceId: name,
        resourceArn: this.templateArn(name),
      });
    }
    const role = body.provisioningRoleArn ?? '';
    if (role.length < 20 || role.length > 2048) throw invalid('provisioningRoleArn must be 20-2048 characters.');
    const type = body.type ?? 'FLEET_PROVISIONING';
    if (type !== 'FLEET_PROVISIONING' && type !== 'JITP') throw invalid(`Invalid type: ${type}`);
    validateTemplateBody(body.templateBody ?? '', type);
    const tags = Object.fromEntries((body.tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
    this.validateTags(tags);
    const epoch = this.epoch();
    const record: TemplateRecord = {
      templateName: name,
      templateArn: this.templateArn(name),
      ...(body.description ? { description: body.description } : {}),
      templateBody: body.templateBody as string,
      enabled: body.enabled ?? false,
      provisioningRoleArn: role,
      type,
      creationDate: epoch,
      lastModifiedDate: epoch,
      defaultVersionId: 1,
      tags,
    };
    this.saveTemplate(record);
    return { templateArn: record.templateArn, templateName: name, defaultVersionId: 1 };
  }

  describeProvisioningTemplate(name: string) {
    const template = this.templates.get(name);
    if (!template) throw notFound(`The provisioning template ${name} does not exist.`);
    const { tags: _tags, ...description } = template;
    return description;
  }

  listProvisioningTemplates(query: { maxResults?: string; nextToken?: string }) {
    const all = [...this.templates.values()].sort((a, b) => a.templateName.localeCompare(b.templateName));
    const { page, next } = pageOf(all, query.nextToken, pageSizeOf(query.maxResults, 'maxResults'));
    return {
      templates: page.map((t) => ({
        templateArn: t.templateArn,
        templateName: t.templateName,
        ...(t.description ? { description: t.description } : {}),
        creationDate: t.creationDate,
        lastModifiedDate: t.lastModifiedDate,
        enabled: t.enabled,
        type: t.type,
      })),
      ...(next ? { nextToken: next } : {}),
    };
  }

  /** Direct read access for the local stack's own views (list/status); not an AWS operation. */
  snapshot(): CaRecord[] {
    return [...this.cas.values()];
  }
}

const encodeMarker = (offset: number): string => Buffer.from(JSON.stringify({ offset })).toString('base64url');
const decodeMarker = (marker: string): number => {
  try {
    const offset = (JSON.parse(Buffer.from(marker, 'base64url').toString('utf8')) as { offset?: unknown }).offset;
    if (typeof offset === 'number' && Number.isInteger(offset) && offset >= 0) return offset;
  } catch {
    // fall through
  }
  throw invalid('The marker/nextToken is not valid.');
};

/** One page of `items` after an opaque offset token, and the token of the page after it, if any. */
const pageOf = <T>(items: T[], token: string | undefined, size: number): { page: T[]; next: string | undefined } => {
  const start = token ? decodeMarker(token) : 0;
  return {
    page: items.slice(start, start + size),
    next: start + size < items.length ? encodeMarker(start + size) : undefined,
  };
};

/** A page-size parameter: 25 when absent, else an integer from 1 to 250. */
const pageSizeOf = (value: string | undefined, name: string): number => {
  const size = value === undefined ? 25 : Number(value);
  if (!Number.isInteger(size) || size < 1 || size > 250) throw invalid(`${name} must be 1-250.`);
  return size;
};

/** The provisioning-template body rules of AWS-IOT-RULES.md. */
export const validateTemplateBody = (text: string, type: string): void => {
  if (text.length < 1 || text.length > 10240) throw invalid('templateBody must be 1-10240 characters.');
  let body: {
    Parameters?: Record<string, unknown>;
    Resources?: Record<string, { Type?: string; Properties?: Record<string, unknown> }>;
  };
  try {
    body = JSON.parse(text);
  } catch {
    throw invalid('templateBody is not valid JSON.');
  }
  if (typeof body !== 'object' || body === null || typeof body.Resources !== 'object')
    throw invalid('templateBody must have Resources.');
  if (type === 'JITP') {
    for (const parameter of Object.keys(body.Parameters ?? {})) {
      if (!JITP_PARAMETERS.has(parameter))
        throw invalid(`JITP templates may only use AWS::IoT::Certificate:: parameters; got ${parameter}.`);
    }
  }
  for (const [name, resource] of Object.entries(body.Resources ?? {})) {
    if (!TEMPLATE_RESOURCE_TYPES.has(resource?.Type ?? ''))
      throw invalid(`Resource ${name} has unsupported type ${resource?.Type}.`);
    if (resource.Type === 'AWS::IoT::Policy') {
      const hasName = resource.Properties?.PolicyName !== undefined;
      const hasDocument = resource.Properties?.PolicyDocument !== undefined;
      if (hasName === hasDocument)
        throw invalid(`Policy ${name} must have exactly one of PolicyName and PolicyDocument.`);
    }
  }
};
