/**
 * An emulator of the AWS IoT control-plane calls the pipeline makes, faithful to
 * shared/AWS-IOT-RULES.md and AWS's API model, split as moto splits a service: errors
 * (errors.ts), which operation answers which error (operations.ts), quotas and faults
 * (quotas.ts), paging (paging.ts), CA certificates (ca-certificates.ts) and their X.509 rules
 * (certificate-rules.ts), provisioning templates (templates.ts), tags (tags.ts), and the device
 * registry behind the data plane (registry.ts: device certificates, Things, policies, JITP). This file
 * holds the account together: its state on disk, its registration code, and the operations.
 *
 * It imports nothing from functions/: it is the referee of that code, not a copy of it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CaCertificates, type CaRecord, type RegisterInput } from './ca-certificates.ts';
import { notFound } from './errors.ts';
import type { Operation } from './operations.ts';
import { Admission, type FaultSettings } from './quotas.ts';
import { DeviceRegistry, type IotEvent } from './registry.ts';
import { RecordStore, writeFileAtomic } from './store.ts';
import { listTags, type TagList, type Taggable, tagResource, untagResource } from './tags.ts';
import { type AccountContext, ProvisioningTemplates, type TemplateRecord } from './templates.ts';
import { Writes } from './writes.ts';

export { IotError } from './errors.ts';
export type { Operation } from './operations.ts';
export { AWS_DEFAULT_TPS, type FaultSettings } from './quotas.ts';
export type { CaRecord } from './ca-certificates.ts';
export { type TemplateRecord, validateTemplateBody } from './templates.ts';
export type { ConnectDecision, IotEvent } from './registry.ts';

export interface EmulatorOptions {
  stateDir: string;
  region?: string;
  account?: string;
  faults?: FaultSettings;
  now?: () => Date;
  random?: () => number;
}

export class IotEmulator {
  readonly region: string;
  readonly account: string;
  faults: FaultSettings;
  /** Called with each CA record as it changes in memory (its write to disk follows; a response waits for it). */
  onCaSaved: ((record: CaRecord) => void) | undefined;
  /** Device certificates, Things, policies, the data endpoint and JITP: what the MQTT broker asks. */
  readonly devices: DeviceRegistry;
  private readonly writes = new Writes();
  private readonly admission: Admission;
  private readonly templates: ProvisioningTemplates;
  private readonly cas: CaCertificates;
  private readonly codePath: string;
  private registrationCode: string | undefined;

  constructor(options: EmulatorOptions) {
    this.region = options.region ?? 'us-east-1';
    this.account = options.account ?? '000000000000';
    this.faults = options.faults ?? {};
    const now = options.now ?? (() => new Date());
    this.admission = new Admission(() => this.faults, options.random ?? Math.random);
    const dir = join(options.stateDir, 'iot');
    mkdirSync(dir, { recursive: true });
    const context: AccountContext = {
      region: this.region,
      account: this.account,
      epoch: () => now().getTime() / 1000,
      track: (write) => this.writes.track(write),
    };
    const templateStore = new RecordStore<TemplateRecord>(join(dir, 'provisioning-templates'));
    this.templates = new ProvisioningTemplates(templateStore.loadAll(), templateStore, context);
    const caStore = new RecordStore<CaRecord>(join(dir, 'cacertificates'));
    this.cas = new CaCertificates(caStore.loadAll(), caStore, this.templates, {
      ...context,
      now,
      registrationCode: () => this.registrationCode,
      onSaved: (record) => this.onCaSaved?.(record),
    });
    this.devices = new DeviceRegistry(dir, {
      ...context,
      now,
      cas: () => this.cas.snapshot(),
      template: (name) => {
        try {
          return this.templates.describe(name);
        } catch {
          return undefined;
        }
      },
      admit: (operation) => this.admit(operation),
    });
    this.codePath = join(dir, 'registration-code.json');
    this.registrationCode = existsSync(this.codePath)
      ? (JSON.parse(readFileSync(this.codePath, 'utf8')) as { code: string }).code
      : undefined;
  }

  // ---- Persistence, quotas and faults: what the server wraps each operation in ----

  /** Runs an operation and resolves once the writes it started are on disk (the server answers then). */
  durably<T>(operation: () => T | Promise<T>): Promise<T> {
    return this.writes.durably(operation);
  }

  /** Resolves when every write started so far has settled (before a restart or a stop). */
  flush(): Promise<void> {
    return this.writes.flush();
  }

  /** Calls received, by operation (admitted or not). */
  get calls(): Map<Operation, number> {
    return this.admission.calls;
  }

  /** Calls admitted past the quota and injected faults, by operation: what the quota floor counts. */
  get admitted(): Map<Operation, number> {
    return this.admission.admitted;
  }

  /** Quota and injected faults, applied before an operation runs. */
  admit(operation: Operation): void {
    this.admission.admit(operation);
  }

  /** Called with what the data plane does (registrations, JITP outcomes, refusals). */
  set onIotEvent(listener: ((event: IotEvent) => void) | undefined) {
    this.devices.onEvent = listener;
  }

  get onIotEvent(): ((event: IotEvent) => void) | undefined {
    return this.devices.onEvent;
  }

  resetQuotas(): void {
    this.admission.resetQuotas();
  }

  caArn(id: string): string {
    return this.cas.arn(id);
  }

  // ---- Registration code ----

  getRegistrationCode(): { registrationCode: string } {
    if (!this.registrationCode) {
      this.registrationCode = randomBytes(32).toString('hex');
      this.writes.track(writeFileAtomic(this.codePath, JSON.stringify({ code: this.registrationCode })));
    }
    return { registrationCode: this.registrationCode };
  }

  deleteRegistrationCode(): Record<string, never> {
    this.registrationCode = undefined;
    this.writes.track(writeFileAtomic(this.codePath, JSON.stringify({ code: null })));
    return {};
  }

  // ---- CA certificates ----

  /** Asynchronous: the verification certificate's signature is checked with WebCrypto. */
  registerCaCertificate(input: RegisterInput): Promise<{ certificateArn: string; certificateId: string }> {
    return this.cas.register(input);
  }

  describeCaCertificate(certificateId: string) {
    return this.cas.describe(certificateId);
  }

  updateCaCertificate(
    certificateId: string,
    query: Parameters<CaCertificates['update']>[1],
    body: Parameters<CaCertificates['update']>[2],
  ): Record<string, never> {
    return this.cas.update(certificateId, query, body);
  }

  deleteCaCertificate(certificateId: string): Record<string, never> {
    return this.cas.delete(certificateId);
  }

  listCaCertificates(query: Parameters<CaCertificates['list']>[0]) {
    return this.cas.list(query);
  }

  // ---- Tags ----

  private taggable(resourceArn: string | undefined): Taggable {
    const arn = resourceArn ?? '';
    const resource = this.cas.taggable(arn) ?? this.templates.taggable(arn);
    if (!resource) throw notFound(`The resource ${arn} does not exist.`);
    return resource;
  }

  tagResource(body: { resourceArn?: string; tags?: TagList }): Record<string, never> {
    return tagResource(this.taggable(body.resourceArn), body.tags);
  }

  untagResource(body: { resourceArn?: string; tagKeys?: string[] }): Record<string, never> {
    return untagResource(this.taggable(body.resourceArn), body.tagKeys);
  }

  listTagsForResource(query: { resourceArn?: string; nextToken?: string }) {
    return listTags(this.taggable(query.resourceArn), query.nextToken);
  }

  // ---- Provisioning templates ----

  createProvisioningTemplate(body: Parameters<ProvisioningTemplates['create']>[0]) {
    return this.templates.create(body);
  }

  describeProvisioningTemplate(name: string) {
    return this.templates.describe(name);
  }

  listProvisioningTemplates(query: { maxResults?: string; nextToken?: string }) {
    return this.templates.list(query);
  }

  /** Direct read access for the local stack's own views (list/status); not an AWS operation. */
  snapshot(): CaRecord[] {
    return this.cas.snapshot();
  }
}
