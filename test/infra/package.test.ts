/**
 * `serverless package` offline (no credentials, no network) and the CloudFormation it generates:
 * the contract of what gets deployed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: unknown };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

let out: string;
let scratch: string;
let resources: Record<string, Resource>;
let packageLog: string;

const ofType = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);
const actions = (statement: Statement): string[] => [statement.Action].flat();
const policyStatements = (role: Resource): Statement[] =>
  (role.Properties.Policies ?? []).flatMap(
    (policy: { PolicyDocument: { Statement: Statement[] } }) => policy.PolicyDocument.Statement,
  );
const roleOf = (fn: Resource): string => fn.Properties.Role['Fn::GetAtt'][0];

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'iot-ca-package-'));
  // serverless-esbuild leaves a temporary folder per function behind: they go with this test's own.
  scratch = mkdtempSync(join(tmpdir(), 'iot-ca-package-tmp-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: out,
    TMPDIR: scratch,
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    AWS_CONFIG_FILE: join(out, 'none'),
    AWS_SHARED_CREDENTIALS_FILE: join(out, 'none'),
  };
  const { stdout, stderr } = await promisify(execFile)(
    'npx',
    ['serverless', 'package', '--stage', 'test', '--package', out],
    { env, timeout: 240_000 },
  );
  packageLog = `${stdout}${stderr}`;
  resources = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8')).Resources;
}, 300_000);
afterAll(() => {
  rmSync(out, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

describe('serverless package (offline)', () => {
  it('packages without AWS credentials', () => {
    expect(packageLog).toMatch(/packaged/i);
  });

  it('deploys the ASL file itself as the register-ca state machine, bound to its own functions', () => {
    const machine = resources.RegisterCaStateMachine as Resource;
    expect(machine.Properties.StateMachineName).toBe('iot-ca-pipeline-test-register-ca');
    expect(machine.Properties.Definition).toEqual(
      JSON.parse(readFileSync('statemachines/register-ca.asl.json', 'utf8')),
    );
    const { Partition, ResultsPrefix, ...functions } = machine.Properties.DefinitionSubstitutions as Record<
      string,
      any
    >;
    for (const [variable, value] of Object.entries(functions)) {
      expect(resources[value['Fn::GetAtt'][0]]?.Type, variable).toBe('AWS::Lambda::Function');
    }
    // The SDK integrations' ARNs and the receipt's prefix (docs/adr/0026).
    expect(Partition).toEqual({ Ref: 'AWS::Partition' });
    expect(ResultsPrefix).toBe('results/');
  });

  it('starts the state machine on Object Created for .pem/.crt (either case) under the incoming prefix', () => {
    const rule = resources.CaUploadedRule as Resource;
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: {
        bucket: { name: [{ Ref: 'CaBucket' }] },
        object: {
          key: [
            { wildcard: 'incoming/*.pem' },
            { wildcard: 'incoming/*.crt' },
            { wildcard: 'incoming/*.PEM' },
            { wildcard: 'incoming/*.CRT' },
          ],
        },
      },
    });
    expect(rule.Properties.Targets[0].Arn).toEqual({ Ref: 'RegisterCaStateMachine' });
  });

  it('starts retire-ca on Object Deleted (a delete marker too) under the same key filters (ADR 0025)', () => {
    const uploaded = (resources.CaUploadedRule as Resource).Properties.EventPattern;
    const rule = resources.CaDeletedRule as Resource;
    expect(rule.Properties.EventPattern).toEqual({ ...uploaded, 'detail-type': ['Object Deleted'] });
    expect(rule.Properties.Targets).toEqual([
      {
        Id: 'retire-ca',
        Arn: { Ref: 'RetireCaStateMachine' },
        RoleArn: { 'Fn::GetAtt': ['EventsStartExecutionRole', 'Arn'] },
      },
    ]);
    const [start] = policyStatements(resources.EventsStartExecutionRole as Resource);
    expect(start?.Resource).toContainEqual({ Ref: 'RetireCaStateMachine' });
    const machine = resources.RetireCaStateMachine as Resource;
    expect(machine.Properties.StateMachineName).toBe('iot-ca-pipeline-test-retire-ca');
    expect(machine.Properties.Definition).toEqual(JSON.parse(readFileSync('statemachines/retire-ca.asl.json', 'utf8')));
  });

  it('schedules shallow and deep reconciliation of the CA bucket', () => {
    const schedules = ofType('AWS::Events::Rule').filter(([, r]) => r.Properties.ScheduleExpression);
    expect(schedules.map(([, r]) => r.Properties.ScheduleExpression).sort()).toEqual(['rate(1 day)', 'rate(1 hour)']);
    for (const [, rule] of schedules) {
      expect(rule.Properties.Targets[0].Arn).toEqual({ Ref: 'ReconcileStateMachine' });
      expect(rule.Properties.Targets[0].Input['Fn::Sub']).toMatch(
        /^\{"bucket": "\$\{CaBucket\}", "deep": (true|false)\}$/,
      );
    }
    const machine = resources.ReconcileStateMachine as Resource;
    expect(machine.Properties.Definition).toEqual(JSON.parse(readFileSync('statemachines/reconcile.asl.json', 'utf8')));
  });

  it('hardens the CA bucket: events on, public access blocked, encrypted, versioned, TLS only', () => {
    const bucket = resources.CaBucket as Resource;
    expect(bucket.Properties.NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled).toBe(true);
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(
      bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault
        .SSEAlgorithm,
    ).toMatch(/AES256|aws:kms/);
    expect(bucket.Properties.VersioningConfiguration.Status).toBe('Enabled');
    const policy = resources.CaBucketPolicy as Resource;
    expect(policy.Properties.Bucket).toEqual({ Ref: 'CaBucket' });
    expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 's3:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
  });

  it('creates a default provisioning template of type JITP with its provisioning role', () => {
    const [[, template]] = ofType('AWS::IoT::ProvisioningTemplate') as [[string, Resource]];
    expect(template.Properties.TemplateType).toBe('JITP');
    expect(template.Properties.TemplateName).toBe('iot-ca-test-jitp');
    const body = JSON.parse(String(template.Properties.TemplateBody['Fn::Sub']).replace('${DevicePolicy}', 'p'));
    expect(
      Object.values(body.Resources)
        .map((r: any) => r.Type)
        .sort(),
    ).toEqual(['AWS::IoT::Certificate', 'AWS::IoT::Policy', 'AWS::IoT::Thing']);
    const role = resources[template.Properties.ProvisioningRoleArn['Fn::GetAtt'][0]] as Resource;
    expect(role.Properties.ManagedPolicyArns).toEqual([
      { 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/service-role/AWSIoTThingsRegistration' },
    ]);
  });

  it('runs every function on nodejs22.x arm64 with a role of its own', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions).toHaveLength(15);
    for (const [id, fn] of functions) {
      expect(fn.Properties.Runtime, id).toBe('nodejs22.x');
      expect(fn.Properties.Architectures, id).toEqual(['arm64']);
    }
    const roles = functions.map(([, fn]) => roleOf(fn));
    expect(new Set(roles).size).toBe(functions.length);
  });

  it('grants no wildcard actions, and Resource "*" only to IoT actions that take no resource ARN', () => {
    const allowed = ofType('AWS::IAM::Role')
      .flatMap(([, role]) => policyStatements(role))
      .filter((s) => s.Effect === 'Allow');
    expect(allowed.length).toBeGreaterThan(0);
    for (const statement of allowed) {
      for (const action of actions(statement)) expect(action).not.toContain('*');
      if (statement.Resource === '*')
        expect(actions(statement)).toEqual([
          expect.stringMatching(
            /^iot:(GetRegistrationCode|RegisterCACertificate|ListCACertificates|ListCertificatesByCA)$/,
          ),
        ]);
    }
  });

  it('lets SignVerification use only the KMS keys and Private CAs the deployment names (none on AWS by default)', () => {
    const statements = policyStatements(resources.SignVerificationRole as Resource);
    const resourceOf = (action: string) => statements.find((s) => actions(s).includes(action))?.Resource;
    const kms = { 'Fn::Sub': 'arn:${AWS::Partition}:kms:*:000000000000:key/*' };
    const pca = { 'Fn::Sub': 'arn:${AWS::Partition}:acm-pca:*:000000000000:certificate-authority/*' };
    expect(['kms:GetPublicKey', 'kms:Sign'].map(resourceOf)).toEqual([kms, kms]);
    expect(
      ['acm-pca:GetCertificateAuthorityCertificate', 'acm-pca:IssueCertificate', 'acm-pca:GetCertificate'].map(
        resourceOf,
      ),
    ).toEqual([pca, pca, pca]);
    const environment = (resources.LoadCertificateLambdaFunction as Resource).Properties.Environment.Variables;
    expect(environment.DEFAULT_SIGNER).toBe('');
  });

  it('builds every ARN with ${AWS::Partition}, so the template deploys in China and GovCloud too', () => {
    const text = JSON.stringify(resources);
    expect(text).toContain('arn:${AWS::Partition}:');
    expect(text.match(/arn:aws[:-]/g) ?? []).toEqual([]);
  });

  it('keeps the CA bucket when the stack is removed or the bucket replaced', () => {
    const bucket = resources.CaBucket as Resource & { DeletionPolicy?: string; UpdateReplacePolicy?: string };
    expect([bucket.DeletionPolicy, bucket.UpdateReplacePolicy]).toEqual(['Retain', 'Retain']);
  });

  it('gives each function only the actions it calls', () => {
    const expected: Record<string, string[]> = {
      LoadCertificate: ['s3:GetObject', 's3:GetObjectVersion', 's3:ListBucket'],
      VerifyOwnership: ['iot:GetRegistrationCode'],
      SignVerification: [
        'acm-pca:GetCertificate',
        'acm-pca:GetCertificateAuthorityCertificate',
        'acm-pca:IssueCertificate',
        'iot:GetRegistrationCode',
        'kms:GetPublicKey',
        'kms:Sign',
      ],
      RegisterCa: [
        'iam:PassRole',
        'iot:DescribeCACertificate',
        'iot:DescribeProvisioningTemplate',
        'iot:RegisterCACertificate',
        'iot:TagResource',
      ],
      AttachTemplate: ['iam:PassRole', 'iot:DescribeProvisioningTemplate', 'iot:UpdateCACertificate'],
      TagCa: ['iot:ListTagsForResource', 'iot:TagResource', 'iot:UntagResource'],
      RecordResult: [
        'events:PutEvents',
        's3:DeleteObject',
        's3:GetObject',
        's3:GetObjectVersion',
        's3:ListBucket',
        's3:PutObject',
      ],
      ReconcilePlan: [
        'iot:ListCACertificates',
        's3:GetObject',
        's3:ListBucket',
        's3:PutObject',
        'states:StartExecution',
      ],
      ReconcileDeep: [
        'iot:DescribeCACertificate',
        'iot:ListTagsForResource',
        's3:GetObject',
        's3:PutObject',
        'states:StartExecution',
      ],
      ReconcileReport: ['events:PutEvents', 's3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject'],
    };
    // retire-ca's steps (ADR 0025).
    Object.assign(expected, {
      ResolveRetire: [
        'iot:DescribeCACertificate',
        'iot:ListTagsForResource',
        's3:GetObject',
        's3:ListBucket',
        's3:PutObject',
        'states:DescribeExecution',
      ],
      ListDeviceCertificates: ['iot:ListCertificatesByCA'],
      RecordRetired: ['events:PutEvents', 's3:GetObject', 's3:ListBucket', 's3:PutObject'],
      RevokeDeviceCertificates: ['iot:ListCertificatesByCA', 'iot:UpdateCertificate'],
      ConfirmDelete: ['iot:DescribeCACertificate', 's3:GetObject', 's3:ListBucket'],
    });
    for (const [name, wanted] of Object.entries(expected)) {
      const fn = resources[`${name}LambdaFunction`] as Resource;
      const granted = policyStatements(resources[roleOf(fn)] as Resource)
        .flatMap(actions)
        .filter((action) => !action.startsWith('logs:'));
      expect.soft(granted.sort(), name).toEqual(wanted);
    }
  });

  it('lets each state machine invoke only its own functions', () => {
    for (const machine of ['RegisterCaStateMachine', 'ReconcileStateMachine', 'RetireCaStateMachine']) {
      const properties = (resources[machine] as Resource).Properties;
      const role = resources[properties.RoleArn['Fn::GetAtt'][0]] as Resource;
      const [statement] = policyStatements(role);
      expect(actions(statement as Statement)).toEqual(['lambda:InvokeFunction']);
      const targets = ((statement?.Resource ?? []) as Array<{ 'Fn::GetAtt': [string, string] }>)
        .map((r) => r['Fn::GetAtt'][0])
        .sort();
      const own = Object.values(
        properties.DefinitionSubstitutions as Record<string, { 'Fn::GetAtt'?: [string, string] }>,
      ).flatMap((v) => (v['Fn::GetAtt'] ? [v['Fn::GetAtt'][0]] : []));
      expect(targets).toEqual([...new Set(own)].sort());
    }
  });

  it("gives retire-ca's role exactly its integrations, and its functions only their own writes (ADR 0025)", () => {
    const properties = (resources.RetireCaStateMachine as Resource).Properties;
    expect(properties.RoleArn).toEqual({ 'Fn::GetAtt': ['RetireCaStateMachineRole', 'Arn'] });
    const [, ...integrations] = policyStatements(resources.RetireCaStateMachineRole as Resource);
    expect(integrations.map((statement) => [actions(statement as Statement), statement?.Resource])).toEqual([
      [
        ['iot:UpdateCACertificate', 'iot:DeleteCACertificate'],
        { 'Fn::Sub': 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:cacert/*' },
      ],
      [['s3:DeleteObject'], { 'Fn::Sub': '${CaBucket.Arn}/results/retired/claims/*' }],
    ]);
    const resourceOf = (role: string, action: string) =>
      policyStatements(resources[role] as Resource)
        .filter((statement) => actions(statement).includes(action))
        .map((statement) => statement.Resource);
    expect(resourceOf('ResolveRetireRole', 's3:PutObject')).toEqual([
      { 'Fn::Sub': '${CaBucket.Arn}/results/retired/claims/*' },
    ]);
    // A claim's owner, to take over a claim of a stopped or timed-out execution: retire-ca's only.
    expect(resourceOf('ResolveRetireRole', 'states:DescribeExecution')).toEqual([
      {
        'Fn::Sub':
          'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:iot-ca-pipeline-test-retire-ca:*',
      },
    ]);
    expect(resourceOf('RecordRetiredRole', 's3:PutObject')).toEqual([
      { 'Fn::Sub': '${CaBucket.Arn}/results/retired/*' },
    ]);
    const publish = policyStatements(resources.RecordRetiredRole as Resource).find((statement) =>
      actions(statement).includes('events:PutEvents'),
    );
    expect(publish).toMatchObject({
      Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default' },
      Condition: { StringEquals: { 'events:source': 'iot-ca-pipeline' } },
    });
    expect(resourceOf('RevokeDeviceCertificatesRole', 'iot:UpdateCertificate')).toEqual([
      { 'Fn::Sub': 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:cert/*' },
    ]);
    // Reconcile no longer deactivates orphans itself: it starts retire-ca.
    expect(resourceOf('ReconcilePlanRole', 'states:StartExecution')).toEqual([
      [{ Ref: 'RegisterCaStateMachine' }, { Ref: 'RetireCaStateMachine' }],
    ]);
  });

  it("gives register-ca's role exactly what its SDK integrations call, and nothing else (docs/adr/0026)", () => {
    const properties = (resources.RegisterCaStateMachine as Resource).Properties;
    const role = resources[properties.RoleArn['Fn::GetAtt'][0]] as Resource;
    const [, ...integrations] = policyStatements(role);
    expect(integrations.map((statement) => [actions(statement as Statement), statement?.Resource])).toEqual([
      [
        ['iot:UpdateCACertificate'],
        { 'Fn::Sub': 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:cacert/*' },
      ],
      [['s3:PutObject'], { 'Fn::Sub': '${CaBucket.Arn}/results/*' }],
      // ReadReceipt's HeadObject of a receipt (docs/adr/0032).
      [['s3:GetObject'], { 'Fn::Sub': '${CaBucket.Arn}/results/*' }],
      [
        ['events:PutEvents'],
        { 'Fn::Sub': 'arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default' },
      ],
    ]);
  });

  it('lets the functions that announce put events on the default bus only, and delete only notice markers', () => {
    const bus = { 'Fn::Sub': 'arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default' };
    for (const role of ['RecordResultRole', 'ReconcileReportRole']) {
      const statements = policyStatements(resources[role] as Resource);
      const resourcesOf = (action: string) =>
        statements.filter((statement) => actions(statement).includes(action)).map((statement) => statement.Resource);
      expect(resourcesOf('events:PutEvents'), role).toEqual([bus]);
      expect(resourcesOf('s3:DeleteObject'), role).toEqual([{ 'Fn::Sub': '${CaBucket.Arn}/results/notices/*' }]);
    }
  });

  it('lets ReconcileReport list and read only the pending announcements, beside its own objects (docs/adr/0030)', () => {
    const statements = policyStatements(resources.ReconcileReportRole as Resource);
    const of = (action: string) => statements.filter((statement) => actions(statement).includes(action));
    expect(of('s3:ListBucket').map((statement) => [statement.Resource, statement.Condition])).toEqual([
      [{ 'Fn::GetAtt': ['CaBucket', 'Arn'] }, { StringLike: { 's3:prefix': ['results/notices/pending/*'] } }],
    ]);
    expect(of('s3:GetObject').flatMap((statement) => [statement.Resource].flat())).toEqual([
      { 'Fn::Sub': '${CaBucket.Arn}/results/reconcile/*' },
      { 'Fn::Sub': '${CaBucket.Arn}/results/notices/pending/*' },
    ]);
  });

  it("sends the pipeline's events to its log group always, and to the topic only when notifyEmail is set", () => {
    const rule = resources.PipelineEventsRule as Resource;
    expect(rule.Properties.EventPattern).toEqual({ source: ['iot-ca-pipeline'] });
    const [log, notify] = rule.Properties.Targets;
    expect(log.Arn['Fn::Sub']).toContain(':log-group:${PipelineEventsLogGroup}');
    expect(notify).toEqual({
      'Fn::If': ['HasNotifyEmail', { Id: 'notify', Arn: { Ref: 'NotificationTopic' } }, { Ref: 'AWS::NoValue' }],
    });
    expect((resources.PipelineEventsLogGroup as Resource).Properties.LogGroupName).toBe('/iot-ca-pipeline/test/events');
    const policy = JSON.parse((resources.PipelineEventsLogPolicy as Resource).Properties.PolicyDocument['Fn::Sub']);
    expect(policy.Statement[0].Principal.Service).toContain('events.amazonaws.com');
    expect(policy.Statement[0].Action).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    for (const name of ['NotificationTopic', 'NotificationTopicPolicy'])
      expect((resources[name] as Resource & { Condition?: string }).Condition, name).toBe('HasNotifyEmail');
    expect((resources.NotificationTopic as Resource).Properties.Subscription).toEqual([
      { Protocol: 'email', Endpoint: '' },
    ]);
  });

  it('raises an alarm on unexpected failures of each state machine, wired to the topic when it exists', () => {
    const alarms = Object.fromEntries(ofType('AWS::CloudWatch::Alarm'));
    expect(Object.keys(alarms).sort()).toEqual([
      'ReconcileFailureAlarm',
      'RegisterCaFailureAlarm',
      'RetireCaFailureAlarm',
    ]);
    const watched = (name: string) =>
      (alarms[name] as Resource).Properties.Metrics.filter((metric: { MetricStat?: unknown }) => metric.MetricStat).map(
        (metric: { MetricStat: { Metric: { Namespace: string; MetricName: string; Dimensions: unknown[] } } }) =>
          `${metric.MetricStat.Metric.Namespace}/${metric.MetricStat.Metric.MetricName}`,
      );
    // register-ca's business errors end in Failed too: its alarm subtracts those RecordFailure counted.
    expect(watched('RegisterCaFailureAlarm')).toEqual([
      'AWS/States/ExecutionsFailed',
      'IotCaPipeline/BusinessFailures',
      'AWS/States/ExecutionsTimedOut',
      'AWS/States/ExecutionsAborted',
    ]);
    expect((alarms.RegisterCaFailureAlarm as Resource).Properties.Metrics[0].Expression).toBe(
      'FILL(failed, 0) - FILL(business, 0) + FILL(timedOut, 0) + FILL(aborted, 0)',
    );
    for (const name of ['ReconcileFailureAlarm', 'RetireCaFailureAlarm'])
      expect(watched(name), name).toEqual([
        'AWS/States/ExecutionsFailed',
        'AWS/States/ExecutionsTimedOut',
        'AWS/States/ExecutionsAborted',
      ]);
    for (const [name, alarm] of Object.entries(alarms)) {
      const metrics = (alarm as Resource).Properties.Metrics as Array<{ Expression?: string; ReturnData?: boolean }>;
      expect(
        metrics.filter((metric) => metric.ReturnData !== false),
        name,
      ).toHaveLength(1);
      expect((alarm as Resource).Properties.AlarmActions, name).toEqual({
        'Fn::If': ['HasNotifyEmail', [{ Ref: 'NotificationTopic' }], { Ref: 'AWS::NoValue' }],
      });
    }
  });

  it('starts repairs only on register-ca, with its ARN built at deploy time', () => {
    const variables = (resources.ReconcilePlanLambdaFunction as Resource).Properties.Environment.Variables;
    expect(variables.REGISTER_CA_STATE_MACHINE_ARN).toEqual({
      'Fn::Sub':
        'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:iot-ca-pipeline-test-register-ca',
    });
    expect(variables.ORPHAN_POLICY).toBe('report');
  });

  it("gives retire-ca's functions the CA bucket, for a CA registered without provenance tags (ADR 0025)", () => {
    for (const fn of ['ResolveRetire', 'ListDeviceCertificates', 'RevokeDeviceCertificates'])
      expect((resources[`${fn}LambdaFunction`] as Resource).Properties.Environment.Variables.CA_BUCKET).toEqual({
        Ref: 'CaBucket',
      });
  });

  it('packages each function individually', () => {
    const zips = readdirSync(out).filter((file) => file.endsWith('.zip'));
    expect(zips).toHaveLength(15);
  });
});
