/**
 * `iot-ca check-template` as an operator runs it: a separate process, a template from a file or
 * by name (on the local stack), a device certificate, exit codes and --json.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Run, runCli } from '../fixtures/cli.ts';
import { makeCa, makeLeaf, P256, privateKeyPem, type Pki } from '../fixtures/pki.ts';

const CN = 'AWS::IoT::Certificate::CommonName';
const ID = 'AWS::IoT::Certificate::Id';
const OU = 'AWS::IoT::Certificate::OrganizationalUnit';
let home: string;
let ca: Pki;

const iotCa = (...args: string[]): Promise<Run> => runCli(home, args);
const file = (name: string, text: string): string => {
  writeFileSync(join(home, name), text);
  return name;
};
const device = async (name: string, subject: string): Promise<string> => file(name, (await makeLeaf(ca, subject)).pem);

/** A fleet's template: the Thing named after the CN, its OU as an attribute, in one group, with an inline policy. */
const TEMPLATE = {
  Parameters: { [CN]: { Type: 'String' }, [OU]: { Type: 'String' }, [ID]: { Type: 'String' } },
  Resources: {
    thing: {
      Type: 'AWS::IoT::Thing',
      Properties: {
        ThingName: { Ref: CN },
        AttributePayload: { line: { Ref: OU } },
        ThingGroups: ['sensors'],
      },
    },
    certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: ID }, Status: 'ACTIVE' } },
    policy: {
      Type: 'AWS::IoT::Policy',
      Properties: {
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }],
        }),
      },
    },
  },
};

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'iot-ca-check-template-'));
  ca = await makeCa({ key: P256 });
  file('template.json', JSON.stringify(TEMPLATE, null, 2));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('iot-ca check-template <file> --device', () => {
  it('prints the Thing, its attributes and groups, the certificate status and the policy, exit 0', async () => {
    const pem = await device('sensor.pem', 'CN=sensor-17, OU=line-2, O=Acme');
    const run = await iotCa('check-template', 'template.json', '--device', pem);
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe(
      'PROVISIONED  the device certificate (CN=sensor-17, OU=line-2, O=Acme) would be provisioned by template template.json',
    );
    expect(lines).toContain('  thing        sensor-17');
    expect(lines).toContain('  attributes   line=line-2');
    expect(lines).toContain('  groups       sensors');
    expect(run.stdout).toMatch(/^ {2}certificate {2}ACTIVE \(id [0-9a-f]{64}\)$/m);
    expect(run.stdout).toContain('  policy       inline document');
  });

  it('--json prints one object: the template, the outcome and what the device gets', async () => {
    const pem = await device('sensor-json.pem', 'CN=sensor-18, OU=line-3');
    const run = await iotCa('--json', 'check-template', 'template.json', '--device', pem);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      template: { source: 'file', reference: 'template.json' },
      outcome: 'PROVISIONED',
      deviceSubject: 'CN=sensor-18, OU=line-3',
      certificateId: expect.stringMatching(/^[0-9a-f]{64}$/),
      thing: { thingName: 'sensor-18', attributes: { line: 'line-3' }, thingGroups: ['sensors'] },
      certificateStatus: 'ACTIVE',
      policies: [{ policyDocument: { Statement: [{ Action: 'iot:Connect' }] } }],
      parameters: { [CN]: 'sensor-18', [OU]: 'line-3' },
    });
  });

  it('names the parameter the subject lacks and the attribute to add, exit 1', async () => {
    const pem = await device('no-ou.pem', 'CN=sensor-19');
    const run = await iotCa('check-template', 'template.json', '--device', pem);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      'MISSING  the device certificate (CN=sensor-19) lacks what template template.json needs',
    );
    expect(run.stdout).toContain(`  ✗ ${OU}: no OU in the subject`);
    const json = await iotCa('--json', 'check-template', 'template.json', '--device', pem);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      outcome: 'MISSING_PARAMETER',
      missing: [{ parameter: OU, attribute: 'OU' }],
    });
  });

  it('refuses a CN that is not a valid thing name, naming the value, exit 1', async () => {
    const pem = await device('spaced.pem', 'CN=Kitchen Sensor, OU=line-2');
    const run = await iotCa('check-template', 'template.json', '--device', pem);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^REFUSED /);
    expect(run.stdout).toContain('Resources.thing.Properties.ThingName: Thing name "Kitchen Sensor" is not valid');
  });

  it("lists every problem of a template that breaks AWS's rules, with what to do, exit 1", async () => {
    const bad = structuredClone(TEMPLATE) as Record<string, any>;
    bad.Parameters.Serial = { Type: 'String' };
    bad.Resources.policy.Properties.PolicyName = 'device';
    bad.Resources.thing.Properties.ThingGroups = [{ 'Fn::If': ['c', 'a', 'b'] }];
    const pem = await device('any.pem', 'CN=sensor-20, OU=line-2');
    const run = await iotCa('check-template', file('bad.json', JSON.stringify(bad)), '--device', pem);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("INVALID  template bad.json breaks AWS's JITP rules (3 problems)");
    expect(run.stdout).toContain('  ✗ Parameters.Serial: "Serial" is not a JITP parameter');
    expect(run.stdout).toContain('  ✗ Resources.thing.Properties.ThingGroups[0].Fn::If: Fn::If is not a function');
    expect(run.stdout).toContain(
      '  ✗ Resources.policy.Properties: A Policy resource has PolicyName or PolicyDocument, not both.',
    );
    expect(run.stdout).toMatch(/what to do: .*check-template/);
    const json = JSON.parse((await iotCa('--json', 'check-template', 'bad.json')).stdout);
    expect(json).toMatchObject({ outcome: 'INVALID_TEMPLATE', remedy: expect.stringMatching(/check-template/) });
    expect(json.problems.map((p: { rule: string }) => p.rule)).toEqual(['parameter', 'function', 'policy']);
  });

  it('reads a DescribeProvisioningTemplate document (templateBody) and refuses a FLEET_PROVISIONING one', async () => {
    const described = { templateName: 'factory', type: 'JITP', templateBody: JSON.stringify(TEMPLATE) };
    const pem = await device('described.pem', 'CN=sensor-21, OU=line-1');
    const run = await iotCa('check-template', file('described.json', JSON.stringify(described)), '--device', pem);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('  thing        sensor-21');
    const fleet = await iotCa(
      'check-template',
      file('fleet.json', JSON.stringify({ ...described, type: 'FLEET_PROVISIONING' })),
      '--device',
      pem,
    );
    expect(fleet.code).toBe(1);
    expect(fleet.stderr.trim()).toBe(
      'error: TemplateNotJitpError: Provisioning template "factory" is of type FLEET_PROVISIONING, not JITP.',
    );
  });

  it('without --device checks the template alone', async () => {
    const run = await iotCa('check-template', 'template.json');
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')[0]).toBe("VALID  template template.json meets AWS's JITP rules");
  });

  it('refuses a device file holding a private key without echoing it, and names a missing file', async () => {
    const leaf = await makeLeaf(ca, 'CN=keyed');
    const key = await privateKeyPem(leaf.keys);
    const run = await iotCa('check-template', 'template.json', '--device', file('keyed.pem', `${leaf.pem}${key}`));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: PrivateKeyMaterialError: /);
    expect(run.stdout + run.stderr).not.toContain(key.split('\n')[1]);
    const missing = await iotCa('check-template', 'template.json', '--device', 'nope.pem');
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('error: FileNotFoundError: Cannot read the device certificate nope.pem: ENOENT');
  });
});

describe('iot-ca --local check-template <name>', () => {
  it("looks the template up with DescribeProvisioningTemplate: the stack's default template for a device", async () => {
    const pem = await device('local.pem', 'CN=plant-7-sensor-1');
    const run = await iotCa('--local', '--json', 'check-template', 'iot-ca-local-jitp', '--device', pem);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      template: { source: 'local', reference: 'iot-ca-local-jitp' },
      outcome: 'PROVISIONED',
      thing: { thingName: 'plant-7-sensor-1' },
      certificateStatus: 'ACTIVE',
      policies: [{ policyName: expect.any(String) }],
    });
  });

  it('a template that does not exist is TemplateNotFoundError, exit 1', async () => {
    const run = await iotCa('--local', 'check-template', 'no-such-template');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'error: TemplateNotFoundError: Provisioning template "no-such-template" does not exist.',
    );
  });
});
