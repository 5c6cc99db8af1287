/**
 * IoT policy decisions for one device connection (docs/aws-iot-rules.md, "Data plane"): the
 * policies attached to the certificate the device presented, evaluated by the repository's own
 * evaluator (local/iam/policy.ts) on AWS IoT's resources (`client/<clientId>`, `topic/<topic>`,
 * `topicfilter/<filter>`) with the policy variables AWS IoT defines for the connection.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { evaluate, type PolicyDocument } from '../iam/policy.ts';
import type { CertificateRecord } from '../iot/certificates.ts';
import type { DeviceRegistry } from '../iot/registry.ts';

export type IotAction = 'iot:Connect' | 'iot:Publish' | 'iot:Subscribe' | 'iot:Receive';

/** Subject and issuer attributes AWS exposes as `iot:Certificate.Subject.<Name>` / `.Issuer.<Name>`. */
const NAME_FIELDS: Record<string, string> = {
  Country: '2.5.4.6',
  Organization: '2.5.4.10',
  OrganizationalUnit: '2.5.4.11',
  DistinguishedNameQualifier: '2.5.4.46',
  State: '2.5.4.8',
  CommonName: '2.5.4.3',
  SerialNumber: '2.5.4.5',
  Locality: '2.5.4.7',
  Title: '2.5.4.12',
  Surname: '2.5.4.4',
  GivenName: '2.5.4.42',
  Initials: '2.5.4.43',
  Pseudonym: '2.5.4.65',
  GenerationQualifier: '2.5.4.44',
};

type Context = Record<string, string | string[]>;

/** `iot:Certificate.*` variables: each name's first value, and `.List` with all of them. */
const certificateContext = (pem: string): Context => {
  const certificate = new x509.X509Certificate(pem);
  const context: Context = {
    'iot:Certificate.SerialNumber': certificate.serialNumber,
    'iot:Certificate.Validity.NotBefore': certificate.notBefore.toISOString(),
    'iot:Certificate.Validity.NotAfter': certificate.notAfter.toISOString(),
  };
  for (const [side, name] of [
    ['Subject', certificate.subjectName],
    ['Issuer', certificate.issuerName],
  ] as const) {
    for (const [field, oid] of Object.entries(NAME_FIELDS)) {
      const values = name.getField(oid);
      if (values[0] === undefined) continue;
      context[`iot:Certificate.${side}.${field}`] = values[0];
      context[`iot:Certificate.${side}.${field}.List`] = values;
    }
  }
  return context;
};

/** What one connection is allowed to do, decided on each request from the registry as it is then. */
export class ConnectionPolicy {
  private readonly certificateVariables: Context;

  constructor(
    /** The registry as it is now (the emulator behind it may have been restarted). */
    private readonly registry: () => DeviceRegistry,
    private readonly place: { region: string; account: string },
    readonly certificate: CertificateRecord,
    readonly clientId: string,
  ) {
    this.certificateVariables = certificateContext(certificate.certificatePem);
  }

  /** The Thing whose name is the client id, if the registry has one. */
  get thingName(): string | undefined {
    return this.registry().things.find(this.clientId)?.thingName;
  }

  private context(): Context {
    const context: Context = { ...this.certificateVariables, 'iot:ClientId': this.clientId };
    const thing = this.registry().things.find(this.clientId);
    if (thing) {
      context['iot:Connection.Thing.ThingName'] = thing.thingName;
      context['iot:Connection.Thing.IsAttached'] = String(thing.principals.includes(this.certificate.certificateArn));
      if (thing.thingTypeName) context['iot:Connection.Thing.ThingTypeName'] = thing.thingTypeName;
      for (const [key, value] of Object.entries(thing.attributes))
        context[`iot:Connection.Thing.Attributes[${key}]`] = value;
    }
    return context;
  }

  /** The ARN IoT authorizes `action` on: the client for Connect, the topic or filter otherwise. */
  resource(action: IotAction, name: string): string {
    const kind = action === 'iot:Connect' ? 'client' : action === 'iot:Subscribe' ? 'topicfilter' : 'topic';
    return `arn:aws:iot:${this.place.region}:${this.place.account}:${kind}/${name}`;
  }

  /** Whether the certificate is still ACTIVE and its policies allow `action` on `name`. */
  allows(action: IotAction, name: string): boolean {
    const current = this.registry().certificates.find(this.certificate.certificateId);
    if (current?.status !== 'ACTIVE') return false;
    const policies: PolicyDocument[] = this.registry().policies.documentsOf(this.certificate.certificateArn);
    const request = { action, resource: this.resource(action, name), context: this.context() };
    return evaluate(request, policies).decision === 'Allowed';
  }
}
