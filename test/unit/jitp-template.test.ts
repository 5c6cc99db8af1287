/**
 * The JITP template checker and evaluator (functions/core/jitp-template.ts): every rule of AWS's
 * *Just-in-time provisioning* and *Provisioning templates* pages, and what a device would get.
 */
import { readFileSync } from 'node:fs';
import { createHash, X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ERROR_SPECS } from '../../functions/core/errors.ts';
import {
  assertJitpTemplate,
  checkTemplate,
  evaluateTemplate,
  type TemplateEvaluation,
  type TemplateProblem,
} from '../../functions/core/jitp-template.ts';
import { makeCa, makeLeaf, P256, privateKeyPem, type Pki } from '../fixtures/pki.ts';

const ID = 'AWS::IoT::Certificate::Id';
const CN = 'AWS::IoT::Certificate::CommonName';

/** The smallest template JITP accepts: a certificate and a policy by name. */
const minimal = (): Record<string, any> => ({
  Parameters: { [CN]: { Type: 'String' }, [ID]: { Type: 'String' } },
  Resources: {
    thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: CN } } },
    certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: ID }, Status: 'ACTIVE' } },
    policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'device' } },
  },
});

/** The template body of AWS's JITP page ("Example template body"), as published. */
const AWS_EXAMPLE = {
  Parameters: {
    [CN]: { Type: 'String' },
    'AWS::IoT::Certificate::SerialNumber': { Type: 'String' },
    'AWS::IoT::Certificate::Country': { Type: 'String' },
    [ID]: { Type: 'String' },
  },
  Resources: {
    thing: {
      Type: 'AWS::IoT::Thing',
      Properties: {
        ThingName: { Ref: CN },
        AttributePayload: { version: 'v1', serialNumber: { Ref: 'AWS::IoT::Certificate::SerialNumber' } },
        ThingTypeName: 'lightBulb-versionA',
        ThingGroups: ['v1-lightbulbs', { Ref: 'AWS::IoT::Certificate::Country' }],
      },
      OverrideSettings: { AttributePayload: 'MERGE', ThingTypeName: 'REPLACE', ThingGroups: 'DO_NOTHING' },
    },
    certificate: {
      Type: 'AWS::IoT::Certificate',
      Properties: { CertificateId: { Ref: ID }, Status: 'ACTIVE' },
      OverrideSettings: { Status: 'DO_NOTHING' },
    },
    policy: {
      Type: 'AWS::IoT::Policy',
      Properties: {
        PolicyDocument:
          '{ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Action":["iot:Publish"], "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/foo/bar"] }] }',
      },
    },
  },
};

/** serverless.yml's DefaultProvisioningTemplate, resolved as CloudFormation's !Sub resolves it. */
const defaultTemplate = (): string => {
  const config = parse(readFileSync('serverless.yml', 'utf8'), { logLevel: 'silent' }) as any;
  return String(config.resources.Resources.DefaultProvisioningTemplate.Properties.TemplateBody).replace(
    '${DevicePolicy}',
    'iot-ca-dev-DevicePolicy-1A2B3C',
  );
};

const problemsOf = (template: unknown): TemplateProblem[] =>
  checkTemplate(typeof template === 'string' ? template : JSON.stringify(template)).problems;
const rulesOf = (template: unknown): string[] => problemsOf(template).map((problem) => problem.rule);
const edit = (change: (template: Record<string, any>) => void): Record<string, any> => {
  const template = minimal();
  change(template);
  return template;
};

let ca: Pki;
const device = async (subject: string): Promise<string> => (await makeLeaf(ca, subject)).pem;
const evaluate = async (template: unknown, subject: string): Promise<TemplateEvaluation> =>
  evaluateTemplate(JSON.stringify(template), await device(subject));

beforeAll(async () => {
  ca = await makeCa({ key: P256 });
});

describe('checkTemplate: templates AWS documents pass', () => {
  it("passes the repository's default template (serverless.yml) with no problem and no warning", () => {
    expect(checkTemplate(defaultTemplate())).toEqual({ problems: [], warnings: [], parameters: [CN, ID] });
  });

  it("passes AWS's published JITP example", () => {
    expect(problemsOf(AWS_EXAMPLE)).toEqual([]);
  });

  it('passes every documented function used as the guide shows it', () => {
    const template = edit((t) => {
      t.Parameters['AWS::IoT::Certificate::OrganizationalUnit'] = { Type: 'String', Default: 'none' };
      t.Mappings = { Sites: { factory: { group: 'plant-1' } } };
      t.Resources.thing.Properties = {
        ThingName: { 'Fn::Join': ['-', ['device', { Ref: CN }]] },
        AttributePayload: { unit: { 'Fn::Select': [0, { 'Fn::Split': ['.', { Ref: CN }] }] } },
        ThingGroups: [{ 'Fn::FindInMap': ['Sites', 'factory', 'group'] }],
      };
      t.Resources.policy.Properties = {
        PolicyName: { 'Fn::Sub': ['${prefix}-${AWS::IoT::Certificate::OrganizationalUnit}', { prefix: 'fleet' }] },
      };
    });
    expect(problemsOf(template)).toEqual([]);
  });
});

describe('checkTemplate: each rule, each problem named with where it is', () => {
  it('size: refuses an empty body and one over 10240 characters', () => {
    expect(problemsOf('')).toEqual([expect.objectContaining({ rule: 'size' })]);
    const big = edit((t) => {
      t.Resources.thing.Properties.AttributePayload = { padding: 'x'.repeat(10_300) };
    });
    expect(rulesOf(big)).toContain('size');
  });

  it('json: refuses a body that is not JSON, or not an object', () => {
    expect(problemsOf('{"Resources": ')).toEqual([
      expect.objectContaining({ rule: 'json', message: expect.stringMatching(/not valid JSON/) }),
    ]);
    expect(rulesOf('[]')).toEqual(['json']);
  });

  it('section: refuses a section JITP does not have, and a missing or malformed Resources', () => {
    const fleet = edit((t) => {
      t.DeviceConfiguration = { Foo: 'Bar' };
      t.Conditions = {};
    });
    expect(problemsOf(fleet)).toEqual([
      expect.objectContaining({
        rule: 'section',
        path: 'DeviceConfiguration',
        message: expect.stringMatching(/fleet/),
      }),
      expect.objectContaining({
        rule: 'section',
        path: 'Conditions',
        message: expect.stringMatching(/CloudFormation/),
      }),
    ]);
    expect(problemsOf({ Parameters: {} })).toContainEqual(
      expect.objectContaining({ rule: 'section', path: 'Resources' }),
    );
    expect(rulesOf({ Resources: [] })).toContain('section');
    expect(problemsOf({ Resources: {} })).toContainEqual(
      expect.objectContaining({ message: expect.stringMatching(/provision nothing/) }),
    );
  });

  it('parameter: only the eight AWS::IoT::Certificate:: parameters, each of Type String with a string Default', () => {
    const template = edit((t) => {
      t.Parameters.ThingName = { Type: 'String' };
      t.Parameters['AWS::IoT::Certificate::commonname'] = { Type: 'String' };
      t.Parameters['AWS::IoT::Certificate::SubjectAlternativeName'] = { Type: 'String' };
      t.Parameters['AWS::IoT::Certificate::Country'] = { Type: 'Number', Default: 1 };
    });
    const problems = problemsOf(template);
    expect(problems).toContainEqual(
      expect.objectContaining({ path: 'Parameters.ThingName', message: expect.stringMatching(/not a JITP parameter/) }),
    );
    expect(problems).toContainEqual(
      expect.objectContaining({ message: expect.stringContaining(`did you mean "${CN}"`) }),
    );
    expect(problems).toContainEqual(
      expect.objectContaining({ path: 'Parameters.AWS::IoT::Certificate::SubjectAlternativeName', rule: 'parameter' }),
    );
    expect(problems).toContainEqual(
      expect.objectContaining({ path: 'Parameters.AWS::IoT::Certificate::Country.Type', rule: 'parameter' }),
    );
    expect(problems).toContainEqual(
      expect.objectContaining({ path: 'Parameters.AWS::IoT::Certificate::Country.Default', rule: 'parameter' }),
    );
    for (const name of [
      'Country',
      'Organization',
      'OrganizationalUnit',
      'DistinguishedNameQualifier',
      'StateName',
      'CommonName',
      'SerialNumber',
      'Id',
    ]) {
      const ok = edit((t) => {
        t.Parameters[`AWS::IoT::Certificate::${name}`] = { Type: 'String' };
      });
      expect(rulesOf(ok), name).toEqual([]);
    }
  });

  it('mapping: two levels of literal values, no function inside', () => {
    const template = edit((t) => {
      t.Mappings = { Flat: { key: 'value' }, Called: { k: { v: { Ref: CN } } } };
    });
    expect(problemsOf(template)).toEqual([
      expect.objectContaining({ rule: 'mapping', path: 'Mappings.Flat.key' }),
      expect.objectContaining({
        rule: 'mapping',
        path: 'Mappings.Called.k.v',
        message: expect.stringMatching(/cannot call/),
      }),
    ]);
  });

  it('resource-type: only Thing, Certificate and Policy', () => {
    const template = edit((t) => {
      t.Resources.group = { Type: 'AWS::IoT::ThingGroup', Properties: {} };
    });
    expect(problemsOf(template)).toEqual([
      expect.objectContaining({ rule: 'resource-type', path: 'Resources.group.Type' }),
    ]);
  });

  it('property: only the documented properties of each type, with a near miss named', () => {
    const template = edit((t) => {
      t.Resources.thing.Properties.thingTypeName = 'sensor';
      t.Resources.thing.Properties.Color = 'red';
      t.Resources.thing.DependsOn = 'certificate';
    });
    const problems = problemsOf(template);
    expect(problems).toContainEqual(
      expect.objectContaining({ rule: 'property', message: expect.stringContaining('did you mean "ThingTypeName"') }),
    );
    expect(problems).toContainEqual(expect.objectContaining({ path: 'Resources.thing.Properties.Color' }));
    expect(problems).toContainEqual(expect.objectContaining({ path: 'Resources.thing.DependsOn' }));
  });

  it('certificate: exactly one Certificate whose CertificateId references AWS::IoT::Certificate::Id', () => {
    expect(
      problemsOf(
        edit((t) => {
          delete t.Resources.certificate;
        }),
      ),
    ).toEqual([
      expect.objectContaining({ rule: 'certificate', message: expect.stringMatching(/no AWS::IoT::Certificate/) }),
    ]);
    expect(
      rulesOf(
        edit((t) => {
          t.Resources.certificate.Properties.CertificateId = 'abc';
        }),
      ),
    ).toEqual(['certificate']);
    expect(
      rulesOf(
        edit((t) => {
          t.Resources.other = t.Resources.certificate;
        }),
      ),
    ).toEqual(['certificate']);
    const csr = edit((t) => {
      t.Resources.certificate.Properties = { CertificateSigningRequest: 'csr', CertificateId: { Ref: ID } };
    });
    expect(problemsOf(csr)).toEqual([
      expect.objectContaining({ rule: 'certificate', message: expect.stringMatching(/bulk registration/) }),
    ]);
    expect(
      problemsOf(
        edit((t) => {
          t.Resources.certificate.Properties.Status = 'PENDING_ACTIVATION';
        }),
      ),
    ).toEqual([expect.objectContaining({ rule: 'certificate', path: 'Resources.certificate.Properties.Status' })]);
  });

  it('thing: at most one, with a ThingName valid for CreateThing, attributes as an object, groups as a list', () => {
    expect(
      rulesOf(
        edit((t) => {
          t.Resources.second = t.Resources.thing;
        }),
      ),
    ).toEqual(['thing']);
    expect(
      problemsOf(
        edit((t) => {
          t.Resources.thing.Properties = {};
        }),
      ),
    ).toEqual([expect.objectContaining({ rule: 'thing', message: 'A Thing resource needs a ThingName.' })]);
    expect(
      problemsOf(
        edit((t) => {
          t.Resources.thing.Properties.ThingName = 'my device';
        }),
      ),
    ).toEqual([expect.objectContaining({ rule: 'thing', message: expect.stringMatching(/not valid/) })]);
    expect(
      rulesOf(
        edit((t) => {
          t.Resources.thing.Properties.AttributePayload = ['a'];
          t.Resources.thing.Properties.ThingGroups = 'g';
        }),
      ),
    ).toEqual(['thing', 'thing']);
  });

  it('policy: PolicyName or PolicyDocument, not both and not neither; a valid name and document', () => {
    const both = edit((t) => {
      t.Resources.policy.Properties.PolicyDocument = '{"Statement": []}';
    });
    expect(problemsOf(both)).toEqual([
      expect.objectContaining({ rule: 'policy', message: expect.stringMatching(/not both/) }),
    ]);
    expect(
      problemsOf(
        edit((t) => {
          t.Resources.policy.Properties = {};
        }),
      ),
    ).toEqual([expect.objectContaining({ rule: 'policy', message: expect.stringMatching(/needs PolicyName/) })]);
    expect(
      rulesOf(
        edit((t) => {
          t.Resources.policy.Properties.PolicyName = 'no spaces allowed';
        }),
      ),
    ).toEqual(['policy']);
    expect(
      problemsOf(
        edit((t) => {
          t.Resources.policy.Properties = { PolicyDocument: '{"Version": "2012-10-17", ' };
        }),
      ),
    ).toEqual([expect.objectContaining({ message: expect.stringMatching(/escaped string/) })]);
    expect(
      problemsOf(
        edit((t) => {
          t.Resources.policy.Properties = { PolicyDocument: { Version: '2012-10-17', Statement: [] } };
        }),
      ),
    ).toEqual([]);
  });

  it('override: the documented properties and actions, MERGE only for attributes and groups, none on policies', () => {
    const template = edit((t) => {
      t.Resources.thing.OverrideSettings = { ThingTypeName: 'MERGE', ThingName: 'REPLACE', ThingGroups: 'KEEP' };
      t.Resources.policy.OverrideSettings = { PolicyName: 'REPLACE' };
    });
    expect(problemsOf(template)).toEqual([
      expect.objectContaining({ rule: 'override', message: expect.stringMatching(/MERGE is valid only/) }),
      expect.objectContaining({ rule: 'override', path: 'Resources.thing.OverrideSettings.ThingName' }),
      expect.objectContaining({ rule: 'override', path: 'Resources.thing.OverrideSettings.ThingGroups' }),
      expect.objectContaining({ rule: 'override', message: expect.stringMatching(/not available for policy/) }),
    ]);
  });

  it('function: only the functions provisioning templates support, each with its documented arguments', () => {
    const template = edit((t) => {
      t.Resources.thing.Properties = {
        ThingName: { 'Fn::If': ['IsProd', 'a', 'b'] },
        ThingTypeName: { 'Fn::GetAtt': ['certificate', 'Arn'] },
        AttributePayload: {
          a: { 'Fn:Join': ['-', ['x']] },
          b: { 'Fn::Join': '-' },
          c: { 'Fn::Select': ['first', ['x']] },
          d: { Ref: CN, Extra: 1 },
          e: { 'Fn::Sub': 42 },
          f: { 'Fn::FindInMap': ['m', 'k'] },
          g: { 'Fn::Split': [',', { Ref: CN }, 'x'] },
        },
      };
    });
    const problems = problemsOf(template);
    expect(problems.every((problem) => problem.rule === 'function')).toBe(true);
    expect(problems.map((problem) => problem.path)).toEqual([
      'Resources.thing.Properties.ThingName.Fn::If',
      'Resources.thing.Properties.ThingTypeName.Fn::GetAtt',
      'Resources.thing.Properties.AttributePayload.a.Fn:Join',
      'Resources.thing.Properties.AttributePayload.b.Fn::Join',
      'Resources.thing.Properties.AttributePayload.c.Fn::Select',
      'Resources.thing.Properties.AttributePayload.d.Ref',
      'Resources.thing.Properties.AttributePayload.e.Fn::Sub',
      'Resources.thing.Properties.AttributePayload.f.Fn::FindInMap',
      'Resources.thing.Properties.AttributePayload.g.Fn::Split',
    ]);
    expect(problems[2]?.message).toContain('did you mean "Fn::Join"');
  });

  it('reference: Ref, Fn::Sub variables and Fn::FindInMap maps name something declared', () => {
    const template = edit((t) => {
      t.Resources.thing.Properties = {
        ThingName: { Ref: 'AWS::IoT::Certificate::Country' },
        AttributePayload: { site: { 'Fn::FindInMap': ['Sites', 'a', 'b'] } },
      };
      t.Resources.policy.Properties = {
        PolicyDocument: {
          'Fn::Sub': '{"Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "${iot:ClientId}"}]}',
        },
      };
    });
    const problems = problemsOf(template);
    expect(problems).toEqual([
      expect.objectContaining({ rule: 'reference', message: expect.stringMatching(/used but not declared/) }),
      expect.objectContaining({ rule: 'reference', message: 'Mapping "Sites" is not declared in Mappings.' }),
      expect.objectContaining({ rule: 'reference', message: expect.stringContaining('${!iot:ClientId}') }),
    ]);
    const escaped = edit((t) => {
      t.Resources.policy.Properties = {
        PolicyDocument: {
          'Fn::Sub': `{"Statement": [{"Resource": "client/\${!iot:ClientId}", "Thing": "\${${CN}}"}]}`,
        },
      };
    });
    expect(problemsOf(escaped)).toEqual([]);
  });

  it('warns of a declared parameter no resource uses (the subject still needs it) and of a template with no policy', () => {
    const template = edit((t) => {
      t.Parameters['AWS::IoT::Certificate::OrganizationalUnit'] = { Type: 'String' };
      delete t.Resources.policy;
    });
    const check = checkTemplate(JSON.stringify(template));
    expect(check.problems).toEqual([]);
    expect(check.warnings).toEqual([
      expect.stringMatching(/attaches no policy/),
      expect.stringMatching(/OrganizationalUnit is declared but not used/),
    ]);
  });
});

describe('assertJitpTemplate: the pipeline check', () => {
  it('throws InvalidTemplateError naming the template and every problem, with a remedy that says what to do', () => {
    const bad = edit((t) => {
      t.Resources.policy.Properties.PolicyDocument = '{"Statement": []}';
      t.Parameters.Serial = { Type: 'String' };
    });
    let thrown: unknown;
    try {
      assertJitpTemplate('fleet-jitp', JSON.stringify(bad));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ name: 'InvalidTemplateError', kind: 'business' });
    const message = (thrown as Error).message;
    expect(message).toContain('"fleet-jitp"');
    expect(message).toContain('2 problems');
    expect(message).toContain('Parameters.Serial');
    expect(message).toContain('not both');
    expect(ERROR_SPECS.InvalidTemplateError.remedy).toMatch(/check-template/);
  });

  it('names the first ten problems of a very bad template and counts the rest, to fit a Step Functions cause', () => {
    const bad = edit((t) => {
      for (let i = 0; i < 25; i++) t.Parameters[`Custom${i}`] = { Type: 'String' };
    });
    expect(() => assertJitpTemplate('noisy', JSON.stringify(bad))).toThrow(
      /\(25 problems\): Parameters\.Custom0: .*Parameters\.Custom9: [^…]*… and 15 more \(iot-ca check-template lists them all\)\.$/,
    );
  });

  it('returns the check of a good template', () => {
    expect(assertJitpTemplate('ok', defaultTemplate()).problems).toEqual([]);
  });
});

describe('evaluateTemplate: what JITP would produce for one device', () => {
  it('the default template: the Thing is named after the CN, the certificate ACTIVE, the stack policy attached', async () => {
    const pem = await device('CN=sensor-0042, O=Acme');
    const evaluation = evaluateTemplate(defaultTemplate(), pem);
    const id = createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
    expect(evaluation).toEqual({
      outcome: 'PROVISIONED',
      deviceSubject: 'CN=sensor-0042, O=Acme',
      certificateId: id,
      parameters: { [CN]: 'sensor-0042', [ID]: id },
      thing: { thingName: 'sensor-0042', attributes: {}, thingGroups: [] },
      certificateStatus: 'ACTIVE',
      policies: [{ policyName: 'iot-ca-dev-DevicePolicy-1A2B3C' }],
      warnings: [expect.stringMatching(/must already exist/)],
    });
  });

  it("AWS's example: attributes, thing type and groups from the subject (serialNumber is the subject's attribute)", async () => {
    const evaluation = await evaluate(AWS_EXAMPLE, 'CN=bulb-7, C=DE, 2.5.4.5=SN-0007');
    expect(evaluation).toMatchObject({
      outcome: 'PROVISIONED',
      thing: {
        thingName: 'bulb-7',
        attributes: { version: 'v1', serialNumber: 'SN-0007' },
        thingTypeName: 'lightBulb-versionA',
        thingGroups: ['v1-lightbulbs', 'DE'],
      },
      certificateStatus: 'ACTIVE',
      policies: [
        {
          policyDocument: { Version: '2012-10-17', Statement: [expect.objectContaining({ Action: ['iot:Publish'] })] },
        },
      ],
    });
  });

  it('names every parameter the subject lacks, with the attribute to add; a Default fills one in', async () => {
    const evaluation = await evaluate(AWS_EXAMPLE, 'CN=bulb-8');
    expect(evaluation).toEqual({
      outcome: 'MISSING_PARAMETER',
      deviceSubject: 'CN=bulb-8',
      missing: [
        { parameter: 'AWS::IoT::Certificate::SerialNumber', attribute: 'serialNumber' },
        { parameter: 'AWS::IoT::Certificate::Country', attribute: 'C' },
      ],
      warnings: [],
    });
    const withDefaults = structuredClone(AWS_EXAMPLE) as Record<string, any>;
    withDefaults.Parameters['AWS::IoT::Certificate::SerialNumber'].Default = 'unknown';
    withDefaults.Parameters['AWS::IoT::Certificate::Country'].Default = 'XX';
    expect(await evaluate(withDefaults, 'CN=bulb-8')).toMatchObject({
      outcome: 'PROVISIONED',
      thing: { attributes: { serialNumber: 'unknown' }, thingGroups: ['v1-lightbulbs', 'XX'] },
    });
  });

  it('requires a declared parameter even when no resource uses it, as AWS does', async () => {
    const template = edit((t) => {
      t.Parameters['AWS::IoT::Certificate::DistinguishedNameQualifier'] = { Type: 'String' };
    });
    expect(await evaluate(template, 'CN=dev-1')).toMatchObject({
      outcome: 'MISSING_PARAMETER',
      missing: [{ parameter: 'AWS::IoT::Certificate::DistinguishedNameQualifier', attribute: 'dnQualifier' }],
    });
    expect(await evaluate(template, 'CN=dev-1, 2.5.4.46=q1')).toMatchObject({ outcome: 'PROVISIONED' });
  });

  it('reads every subject parameter from its attribute', async () => {
    const names = ['Country', 'Organization', 'OrganizationalUnit', 'DistinguishedNameQualifier', 'StateName'];
    const template = edit((t) => {
      t.Resources.thing.Properties.AttributePayload = {};
      names.forEach((name, index) => {
        t.Parameters[`AWS::IoT::Certificate::${name}`] = { Type: 'String' };
        t.Resources.thing.Properties.AttributePayload[`a${index}`] = { Ref: `AWS::IoT::Certificate::${name}` };
      });
      t.Resources.thing.Properties.ThingTypeName = 'typed';
    });
    const evaluation = await evaluate(template, 'CN=d1, C=FR, O=Acme, OU=line-2, 2.5.4.46=q9, ST=Bretagne');
    expect(evaluation).toMatchObject({
      outcome: 'PROVISIONED',
      thing: { attributes: { a0: 'FR', a1: 'Acme', a2: 'line-2', a3: 'q9', a4: 'Bretagne' } },
    });
  });

  it('a CN that is not a valid thing name is refused with the value, as CreateThing would', async () => {
    expect(await evaluate(minimal(), 'CN=Living Room Lamp')).toMatchObject({
      outcome: 'INVALID_VALUE',
      path: 'Resources.thing.Properties.ThingName',
      message: expect.stringContaining('"Living Room Lamp"'),
    });
  });

  it('attribute values must be valid, and a thing without a type takes at most three attributes', async () => {
    const spaced = edit((t) => {
      t.Parameters['AWS::IoT::Certificate::Organization'] = { Type: 'String' };
      t.Resources.thing.Properties.AttributePayload = { org: { Ref: 'AWS::IoT::Certificate::Organization' } };
    });
    expect(await evaluate(spaced, 'CN=d, O=Acme Corp')).toMatchObject({
      outcome: 'INVALID_VALUE',
      path: 'Resources.thing.Properties.AttributePayload.org',
    });
    const four = edit((t) => {
      t.Resources.thing.Properties.AttributePayload = { a: '1', b: '2', c: '3', d: '4' };
    });
    expect(await evaluate(four, 'CN=d')).toMatchObject({
      outcome: 'INVALID_VALUE',
      message: expect.stringMatching(/at most 3 attributes/),
    });
    four.Resources.thing.Properties.ThingTypeName = 'sensor';
    expect(await evaluate(four, 'CN=d')).toMatchObject({ outcome: 'PROVISIONED' });
  });

  it('applies Fn::Join, Fn::Split, Fn::Select, Fn::FindInMap and Fn::Sub (with ${!literal}) for the device', async () => {
    const template = edit((t) => {
      t.Parameters['AWS::IoT::Certificate::OrganizationalUnit'] = { Type: 'String' };
      t.Mappings = { Lines: { 'line-1': { group: 'plant-north' } } };
      t.Resources.thing.Properties = {
        ThingName: { 'Fn::Join': ['_', ['dev', { 'Fn::Select': ['1', { 'Fn::Split': ['.', { Ref: CN }] }] }]] },
        ThingGroups: [{ 'Fn::FindInMap': ['Lines', { Ref: 'AWS::IoT::Certificate::OrganizationalUnit' }, 'group'] }],
      };
      t.Resources.policy.Properties = {
        PolicyDocument: {
          'Fn::Sub':
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:*:*:client/${!iot:ClientId}", "Condition": {"StringEquals": {"cn": "${' +
            CN +
            '}"}}}]}',
        },
      };
      t.Resources.certificate.Properties.Status = 'Inactive';
    });
    const evaluation = await evaluate(template, 'CN=acme.0042.eu, OU=line-1');
    expect(evaluation).toMatchObject({
      outcome: 'PROVISIONED',
      thing: { thingName: 'dev_0042', thingGroups: ['plant-north'] },
      certificateStatus: 'INACTIVE',
      policies: [
        {
          policyDocument: {
            Statement: [
              {
                Resource: 'arn:aws:iot:*:*:client/${iot:ClientId}',
                Condition: { StringEquals: { cn: 'acme.0042.eu' } },
              },
            ],
          },
        },
      ],
    });
    expect(await evaluate(template, 'CN=acme.0042.eu, OU=line-9')).toMatchObject({
      outcome: 'INVALID_VALUE',
      message: expect.stringMatching(/Mappings.Lines has no line-9.group/),
    });
    expect(await evaluate(template, 'CN=single, OU=line-1')).toMatchObject({
      outcome: 'INVALID_VALUE',
      message: expect.stringMatching(/index 1 is outside the list of 1/),
    });
  });

  it('takes the first of a repeated attribute and says so', async () => {
    const template = edit((t) => {
      t.Parameters['AWS::IoT::Certificate::OrganizationalUnit'] = { Type: 'String' };
      t.Resources.thing.Properties.AttributePayload = { ou: { Ref: 'AWS::IoT::Certificate::OrganizationalUnit' } };
    });
    const evaluation = await evaluate(template, 'CN=d, OU=first, OU=second');
    expect(evaluation).toMatchObject({ outcome: 'PROVISIONED', thing: { attributes: { ou: 'first' } } });
    expect(evaluation.warnings).toContainEqual(expect.stringMatching(/2 OU values/));
  });

  it('reports the problems of a template that breaks the rules instead of evaluating it', async () => {
    const evaluation = await evaluate(
      edit((t) => {
        delete t.Resources.certificate;
      }),
      'CN=d',
    );
    expect(evaluation).toMatchObject({
      outcome: 'INVALID_TEMPLATE',
      problems: [expect.objectContaining({ rule: 'certificate' })],
    });
  });

  it('refuses a device file with a private key or without a certificate, with the pipeline error names', async () => {
    const leaf = await makeLeaf(ca, 'CN=d');
    const key = await privateKeyPem(leaf.keys);
    expect(() => evaluateTemplate(defaultTemplate(), `${leaf.pem}${key}`)).toThrow(
      expect.objectContaining({ name: 'PrivateKeyMaterialError' }),
    );
    expect(() => evaluateTemplate(defaultTemplate(), 'not a pem')).toThrow(
      expect.objectContaining({ name: 'NotPemError' }),
    );
  });
});
