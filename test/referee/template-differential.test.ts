/**
 * The pipeline's JITP template check (functions/core/jitp-template.ts, run before a template is
 * attached and by `iot-ca check-template`) against the IoT emulator's JITP (local/iot/jitp.ts, what
 * the embedded stack applies when a device connects): two readings of AWS's rules, written apart.
 * Over a corpus of templates and device subjects, the pipeline must never pass a template for a
 * device that the emulator cannot provision, and must predict what the emulator makes; where it
 * refuses what the emulator would apply, that is one of the listed, deliberate stricter rules.
 */
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateTemplate } from '../../functions/core/jitp-template.ts';
import { planJitp, subjectParameters, TemplateError } from '../../local/iot/jitp.ts';
import { thingProblem } from '../../local/iot/things.ts';
import { makeCa, makeLeaf, P256, type Pki } from '../fixtures/pki.ts';

const CN = 'AWS::IoT::Certificate::CommonName';
const ID = 'AWS::IoT::Certificate::Id';
const OU = 'AWS::IoT::Certificate::OrganizationalUnit';
const SERIAL = 'AWS::IoT::Certificate::SerialNumber';
const certificate = { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: ID }, Status: 'ACTIVE' } };
const thing = (ThingName: unknown, extra: object = {}) => ({
  Type: 'AWS::IoT::Thing',
  Properties: { ThingName, ...extra },
});
const namedPolicy = { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'fleet-device' } };
const params = (...names: string[]) => Object.fromEntries(names.map((name) => [name, { Type: 'String' }]));

/** Templates as operators write them, right and wrong. */
const TEMPLATES: Record<string, object> = {
  default: { Parameters: params(CN, ID), Resources: { thing: thing({ Ref: CN }), certificate, policy: namedPolicy } },
  'join and attributes': {
    Parameters: params(CN, OU, ID),
    Resources: {
      thing: thing({ 'Fn::Join': ['-', [{ Ref: OU }, { Ref: CN }]] }, { AttributePayload: { unit: { Ref: OU } } }),
      certificate,
      policy: namedPolicy,
    },
  },
  'serial with a default': {
    Parameters: { ...params(CN, ID), [SERIAL]: { Type: 'String', Default: 'none' } },
    Resources: { thing: thing({ Ref: CN }, { AttributePayload: { serial: { Ref: SERIAL } } }), certificate },
  },
  'serial without a default': {
    Parameters: params(CN, SERIAL, ID),
    Resources: { thing: thing({ Ref: SERIAL }), certificate },
  },
  'inline policy': {
    Parameters: params(CN, ID),
    Resources: {
      thing: thing({ Ref: CN }),
      certificate,
      policy: {
        Type: 'AWS::IoT::Policy',
        Properties: {
          PolicyDocument:
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}',
        },
      },
    },
  },
  'policy by name and document': {
    Parameters: params(CN, ID),
    Resources: {
      certificate,
      policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'p', PolicyDocument: '{}' } },
    },
  },
  'certificate not by its id': {
    Parameters: params(CN, ID),
    Resources: { thing: thing({ Ref: CN }), certificate: { ...certificate, Properties: { CertificateId: 'x' } } },
  },
  'a parameter JITP does not give': {
    Parameters: { ...params(CN, ID), Location: { Type: 'String' } },
    Resources: { thing: thing({ Ref: 'Location' }), certificate },
  },
  'select and split': {
    Parameters: params(CN, ID),
    Resources: { thing: thing({ 'Fn::Select': [0, { 'Fn::Split': ['.', { Ref: CN }] }] }), certificate },
  },
  'find in map': {
    Parameters: params(CN, OU, ID),
    Mappings: { units: { lab: { prefix: 'lab' }, plant: { prefix: 'plant' } } },
    Resources: {
      thing: thing({ 'Fn::Join': ['-', [{ 'Fn::FindInMap': ['units', { Ref: OU }, 'prefix'] }, { Ref: CN }]] }),
      certificate,
    },
  },
  'fn::sub': {
    Parameters: params(CN, ID),
    Resources: { thing: thing({ 'Fn::Sub': 'dev-${AWS::IoT::Certificate::CommonName}' }), certificate },
  },
  'fn::sub with variables and a literal': {
    Parameters: params(CN, ID),
    Resources: {
      thing: thing({ 'Fn::Sub': ['${site}-${AWS::IoT::Certificate::CommonName}', { site: 'berlin' }] }),
      certificate,
      policy: {
        Type: 'AWS::IoT::Policy',
        Properties: { PolicyDocument: { 'Fn::Sub': '{"Statement":[{"Resource":"client/${!iot:ClientId}"}]}' } },
      },
    },
  },
  'fn::if with a condition': {
    Parameters: params(CN, OU, ID),
    Conditions: { isLab: { 'Fn::Equals': [{ Ref: OU }, 'lab'] } },
    Resources: { thing: thing({ 'Fn::If': ['isLab', { Ref: CN }, 'other'] }), certificate },
  },
  'unsupported resource type': {
    Parameters: params(CN, ID),
    Resources: { certificate, role: { Type: 'AWS::IAM::Role', Properties: {} } },
  },
  'certificate inactive': {
    Parameters: params(CN, ID),
    Resources: {
      thing: thing({ Ref: CN }),
      certificate: { ...certificate, Properties: { ...certificate.Properties, Status: 'INACTIVE' } },
    },
  },
};

/** Device subjects: what a fleet's certificates carry, or lack. */
const SUBJECTS = [
  'CN=sensor-1',
  'CN=sensor-2, OU=lab',
  'CN=sensor.3, OU=plant, 2.5.4.5=SN-42',
  'CN=sensor-4, O=Acme, C=DE',
];

/**
 * Where the pipeline refuses what the emulator would apply, on purpose: the outcome or problem it
 * reports, and why. Anything else the pipeline refuses and the emulator applies fails the test.
 */
const STRICTER: Array<{ template: string; reason: string }> = [];

type Verdict =
  | { ok: true; thing?: string; attributes?: Record<string, string>; status: string; policies: string[] }
  | { ok: false; why: string };

const emulatorVerdict = (body: string, der: Uint8Array): Verdict => {
  const id = createHash('sha256').update(der).digest('hex');
  try {
    const plan = planJitp(body, subjectParameters(der, id));
    // The registry refuses a Thing AWS would not create (its name, its attributes) when it applies the plan.
    const problem =
      plan.thing && thingProblem(plan.thing.name, plan.thing.attributes, Boolean(plan.thing.thingTypeName));
    if (problem) return { ok: false, why: problem };
    return {
      ok: true,
      ...(plan.thing ? { thing: plan.thing.name, attributes: plan.thing.attributes } : {}),
      status: plan.certificateStatus,
      policies: plan.policies.map((policy) => policy.name ?? 'inline'),
    };
  } catch (error) {
    if (error instanceof TemplateError) return { ok: false, why: error.message };
    throw error;
  }
};

const pipelineVerdict = (body: string, pem: string): Verdict => {
  const evaluation = evaluateTemplate(body, pem);
  if (evaluation.outcome !== 'PROVISIONED') return { ok: false, why: evaluation.outcome };
  return {
    ok: true,
    ...(evaluation.thing ? { thing: evaluation.thing.thingName, attributes: evaluation.thing.attributes } : {}),
    status: evaluation.certificateStatus,
    policies: evaluation.policies.map((policy) => policy.policyName ?? 'inline'),
  };
};

let ca: Pki;
const devices: Array<{ subject: string; pem: string; der: Uint8Array }> = [];

beforeAll(async () => {
  ca = await makeCa({ key: P256 });
  for (const subject of SUBJECTS) {
    const leaf = await makeLeaf(ca, subject);
    devices.push({ subject, pem: leaf.pem, der: new Uint8Array(leaf.certificate.rawData) });
  }
});

describe('JITP templates: the pipeline against the emulator', () => {
  const judged = () =>
    Object.entries(TEMPLATES).flatMap(([name, template]) =>
      devices.map((device) => {
        const body = JSON.stringify(template);
        return {
          name,
          subject: device.subject,
          pipeline: pipelineVerdict(body, device.pem),
          emulator: emulatorVerdict(body, device.der),
        };
      }),
    );

  it('never passes a template for a device the emulator cannot provision, and predicts what it makes', () => {
    const cases = judged();
    const gaps = cases
      .filter((c) => c.pipeline.ok && !c.emulator.ok)
      .map(
        (c) => `${c.name} / ${c.subject}: the pipeline passes it, the emulator: ${(c.emulator as { why: string }).why}`,
      );
    expect(gaps).toEqual([]);
    for (const c of cases.filter((each) => each.pipeline.ok && each.emulator.ok))
      expect(c.pipeline, `${c.name} / ${c.subject}`).toEqual(c.emulator);
    // The corpus exercises both sides: devices that provision, and templates both refuse.
    expect(cases.filter((c) => c.pipeline.ok).length).toBeGreaterThan(10);
    expect(cases.filter((c) => !c.pipeline.ok && !c.emulator.ok).length).toBeGreaterThan(10);
  });

  it('refuses what the emulator would apply only by a listed, deliberate rule, each still in use', () => {
    const stricter = judged().filter((c) => !c.pipeline.ok && c.emulator.ok);
    const unlisted = stricter.filter((c) => !STRICTER.some((rule) => rule.template === c.name));
    expect(unlisted.map((c) => `${c.name} / ${c.subject}: ${(c.pipeline as { why: string }).why}`)).toEqual([]);
    for (const rule of STRICTER)
      expect(
        stricter.some((c) => c.name === rule.template),
        rule.template,
      ).toBe(true);
  });
});
