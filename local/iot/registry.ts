/**
 * The account's device registry: device certificates, Things, policies and the account's data
 * endpoint, and what happens when a device presents a certificate (docs/aws-iot-rules.md, "JITP"):
 * a known ACTIVE certificate is let in; an unknown one signed by an ACTIVE, auto-registering CA is
 * registered PENDING_ACTIVATION, announced on `$aws/events/certificates/registered/<caId>`, and
 * provisioned by the CA's template; the connection that did it is refused either way.
 *
 * Every decision is made without awaiting, so two connections of one new certificate cannot both
 * register it; the caller waits for the writes (the emulator's `durably`) before answering.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CaRecord } from './ca-certificates.ts';
import { type CertificateRecord, certificateIdOf, DeviceCertificates, issuedBy, parsePem } from './certificates.ts';
import { invalid } from './errors.ts';
import { type JitpPlan, planJitp, subjectParameters, TemplateError } from './jitp.ts';
import type { Operation } from './operations.ts';
import { documentProblem, generatedPolicyName, Policies, type PolicyRecord } from './policies.ts';
import { RecordStore, writeFileAtomic } from './store.ts';
import type { AccountContext, TemplateRecord } from './templates.ts';
import { type ThingRecord, thingProblem, Things } from './things.ts';

/** What the data plane did, for the stack's log (`iot-ca up`): named after AWS IoT's metrics. */
export interface IotEvent {
  type:
    | 'CertificateRegistered'
    | 'ProvisionThing.Success'
    | 'ProvisionThing.ClientErrors'
    | 'ProvisionThing.Throttled'
    | 'Connect.Success'
    | 'Connect.AuthError'
    | 'PublishIn.AuthError'
    | 'Subscribe.AuthError';
  /** ISO 8601. */
  time: string;
  message: string;
  certificateId?: string;
  caCertificateId?: string;
  clientId?: string;
  thingName?: string;
  /** CertificateRegistered: the MQTT topic and payload AWS publishes. */
  topic?: string;
  payload?: unknown;
}

export type ConnectDecision =
  | { outcome: 'accepted'; certificate: CertificateRecord }
  | { outcome: 'refused' | 'provisioned'; reason: string };

/** The endpoint types DescribeEndpoint knows, and each one's host name under the account's prefix. */
const ENDPOINT_HOSTS: Record<string, (prefix: string, region: string) => string> = {
  'iot:Data': (prefix, region) => `${prefix}.iot.${region}.localhost`,
  'iot:Data-ATS': (prefix, region) => `${prefix}-ats.iot.${region}.localhost`,
  'iot:CredentialProvider': (prefix, region) => `${prefix}.credentials.iot.${region}.localhost`,
  'iot:Jobs': (prefix, region) => `${prefix}.jobs.iot.${region}.localhost`,
};

export class DeviceRegistry {
  readonly certificates: DeviceCertificates;
  readonly things: Things;
  readonly policies: Policies;
  onEvent: ((event: IotEvent) => void) | undefined;
  private readonly endpointPath: string;
  /** The account's endpoint prefix: made on the first DescribeEndpoint, then kept, as AWS keeps it. */
  private endpointPrefix: string | undefined;
  /** Parsed CA certificates by id and PEM (a CA's PEM never changes under its id). */
  private readonly parsedCas = new Map<string, X509Certificate>();

  constructor(
    dir: string,
    private readonly context: AccountContext & {
      now: () => Date;
      cas: () => CaRecord[];
      template: (name: string) => Pick<TemplateRecord, 'templateBody'> | undefined;
      admit: (operation: Operation) => void;
    },
  ) {
    const store = <T>(name: string) => new RecordStore<T>(join(dir, name));
    const certificateStore = store<CertificateRecord>('certificates');
    this.certificates = new DeviceCertificates(certificateStore.loadAll(), certificateStore, {
      ...context,
      issuerOf: (device, caPem) => this.issuerOf(device, caPem),
    });
    const thingStore = store<ThingRecord>('things');
    this.things = new Things(
      new Map([...thingStore.loadAll().values()].map((t) => [t.thingName, t])),
      thingStore,
      context,
    );
    const policyStore = store<PolicyRecord>('policies');
    this.policies = new Policies(
      new Map([...policyStore.loadAll().values()].map((p) => [p.policyName, p])),
      policyStore,
      { ...context, targetExists: (arn) => this.certificateOfArn(arn) !== undefined },
    );
    this.endpointPath = join(dir, 'endpoint.json');
    if (existsSync(this.endpointPath))
      this.endpointPrefix = (JSON.parse(readFileSync(this.endpointPath, 'utf8')) as { prefix: string }).prefix;
  }

  describeEndpoint(query: { endpointType?: string }): { endpointAddress: string } {
    const host = ENDPOINT_HOSTS[query.endpointType ?? 'iot:Data'];
    if (!host) throw invalid(`Invalid endpointType: ${query.endpointType}`);
    if (!this.endpointPrefix) {
      this.endpointPrefix = randomBytes(7).toString('hex');
      this.context.track(writeFileAtomic(this.endpointPath, JSON.stringify({ prefix: this.endpointPrefix })));
    }
    return { endpointAddress: host(this.endpointPrefix, this.context.region) };
  }

  certificateOfArn(arn: string): CertificateRecord | undefined {
    const id = /:cert\/([0-9a-f]{64})$/.exec(arn)?.[1];
    const record = id ? this.certificates.find(id) : undefined;
    return record?.certificateArn === arn ? record : undefined;
  }

  /** The registered CA that issued `device`: the one `caPem` names if given, else any that verifies. */
  issuerOf(device: X509Certificate, caPem?: string): CaRecord | undefined {
    const wanted = caPem ? certificateIdOf(parsePem(caPem, 'CA certificate').raw) : undefined;
    const candidates = this.context.cas().filter((ca) => !wanted || ca.certificateId === wanted);
    // DEFAULT-mode CAs first: a CA registered in both modes in other accounts is this account's own.
    candidates.sort((a, b) => Number(a.certificateMode !== 'DEFAULT') - Number(b.certificateMode !== 'DEFAULT'));
    return candidates.find((ca) => issuedBy(device, this.parsed(ca)));
  }

  private parsed(ca: CaRecord): X509Certificate {
    let certificate = this.parsedCas.get(ca.certificateId);
    if (!certificate) {
      certificate = new X509Certificate(ca.certificatePem);
      this.parsedCas.set(ca.certificateId, certificate);
    }
    return certificate;
  }

  private emit(event: Omit<IotEvent, 'time'>): void {
    this.onEvent?.({ time: this.context.now().toISOString(), ...event });
  }

  private refuse(reason: string, fields: Partial<IotEvent> = {}): ConnectDecision {
    this.emit({ type: 'Connect.AuthError', message: reason, ...fields });
    return { outcome: 'refused', reason };
  }

  /** What a TLS connection presenting `der` (the device's certificate) is allowed to do. */
  connect(der: Buffer): ConnectDecision {
    const certificateId = certificateIdOf(der);
    const known = this.certificates.find(certificateId);
    if (known) {
      if (known.status === 'ACTIVE') return { outcome: 'accepted', certificate: known };
      return this.refuse(`the certificate ${certificateId} is ${known.status}`, {
        certificateId,
        ...(known.caCertificateId ? { caCertificateId: known.caCertificateId } : {}),
      });
    }
    const device = new X509Certificate(der);
    const now = this.context.now().getTime();
    if (now < Date.parse(device.validFrom) || now > Date.parse(device.validTo))
      return this.refuse(`the certificate ${certificateId} is not within its validity period`, { certificateId });
    const ca = this.issuerOf(device);
    if (!ca) return this.refuse(`the certificate ${certificateId} is unknown and no registered CA signed it`);
    const ids = { certificateId, caCertificateId: ca.certificateId };
    if (ca.status !== 'ACTIVE')
      return this.refuse(`the certificate's CA ${ca.certificateId} is ${ca.status}: nothing registered`, ids);
    if (ca.autoRegistrationStatus !== 'ENABLE')
      return this.refuse(
        `the certificate's CA ${ca.certificateId} has auto-registration DISABLE: nothing registered`,
        ids,
      );
    try {
      this.context.admit('RegisterThing');
    } catch (error) {
      const reason = `JITP throttled (${(error as Error).message}): nothing registered; reconnect with backoff`;
      this.emit({ type: 'ProvisionThing.Throttled', message: reason, ...ids });
      return { outcome: 'refused', reason };
    }
    const record = this.certificates.registerPending(device, ca);
    const topic = `$aws/events/certificates/registered/${ca.certificateId}`;
    this.emit({
      type: 'CertificateRegistered',
      message: `certificate ${certificateId} registered PENDING_ACTIVATION`,
      ...ids,
      topic,
      payload: {
        certificateId,
        caCertificateId: ca.certificateId,
        timestamp: this.context.now().getTime(),
        certificateStatus: 'PENDING_ACTIVATION',
        awsAccountId: this.context.account,
        certificateRegistrationTimestamp: String(Math.round(record.creationDate * 1000)),
      },
    });
    const config = ca.registrationConfig;
    const body =
      config?.templateBody ??
      (config?.templateName ? this.context.template(config.templateName)?.templateBody : undefined);
    if (!body) {
      const reason = `certificate ${certificateId} left PENDING_ACTIVATION: its CA has no JITP template`;
      return { outcome: 'refused', reason };
    }
    try {
      const plan = planJitp(body, subjectParameters(der, certificateId));
      this.check(plan);
      const thingName = this.apply(plan, record);
      this.emit({
        type: 'ProvisionThing.Success',
        message: `certificate ${certificateId} ${plan.certificateStatus}${thingName ? `, Thing ${thingName}` : ''}`,
        ...ids,
        ...(thingName ? { thingName } : {}),
      });
      return { outcome: 'provisioned', reason: 'provisioned by JITP: the first connection is closed; reconnect' };
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      const reason = `JITP failed, certificate ${certificateId} left PENDING_ACTIVATION: ${error.message}`;
      this.emit({ type: 'ProvisionThing.ClientErrors', message: reason, ...ids });
      return { outcome: 'refused', reason };
    }
  }

  /** Refuses a plan that cannot be carried out whole, before anything is made. */
  private check(plan: JitpPlan): void {
    if (plan.thing) {
      const { name, attributes, thingTypeName, thingGroups } = plan.thing;
      const problem = thingProblem(name, attributes, thingTypeName !== undefined);
      if (problem) throw new TemplateError(problem);
      if (thingTypeName) throw new TemplateError(`the thing type ${thingTypeName} does not exist`);
      if (thingGroups.length) throw new TemplateError(`the thing group ${thingGroups[0]} does not exist`);
    }
    for (const policy of plan.policies) {
      if (policy.document) {
        const problem = documentProblem(policy.document);
        if (problem) throw new TemplateError(problem);
      } else if (!this.policies.find(policy.name as string)) {
        throw new TemplateError(`the policy ${policy.name} does not exist`);
      }
    }
  }

  private apply(plan: JitpPlan, certificate: CertificateRecord): string | undefined {
    for (const policy of plan.policies) {
      const name = policy.name ?? generatedPolicyName(policy.document as string);
      if (policy.document) this.policies.ensure(name, policy.document);
      this.policies.attach(name, certificate.certificateArn);
    }
    if (plan.thing) {
      this.things.upsert(plan.thing.name, plan.thing.attributes);
      this.things.attachPrincipal(plan.thing.name, certificate.certificateArn);
    }
    this.certificates.setStatus(certificate.certificateId, plan.certificateStatus);
    return plan.thing?.name;
  }
}
