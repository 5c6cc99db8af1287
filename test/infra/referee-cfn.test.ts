/**
 * AWS's published data as the referee of every resource in the packaged template: Properties
 * judged by the CloudFormation registry schemas in `@aws-cdk/aws-service-spec` (the data CDK
 * generates its L1 constructs from), not by our own list. Each kind of mistake is planted in a
 * copy of the template and shown caught, so that a clean report means the checker looked.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { checkCfnTemplate } from '../fixtures/referee-cfn.ts';
import { loadServiceSpec, type ServiceSpec } from '../fixtures/referee-spec.ts';
import { packageTemplate, planted, resource, type Template } from '../fixtures/referee-template.ts';

let template: Template;
let spec: ServiceSpec;

beforeAll(async () => {
  spec = loadServiceSpec();
  template = await packageTemplate();
}, 300_000);

const findings = (copy: Template) => checkCfnTemplate(copy, spec).findings;
const bucket = (t: Template) => resource(t, 'CaBucket').Properties as Record<string, any>;

describe('the CloudFormation referee on the packaged template', () => {
  it('reads the registry schemas quickly enough to run in every npm test', () => {
    // 2.6 MB of gzip, 15 MB of JSON: 0.25 s on an idle machine, up to 1.1 s beside the whole suite.
    expect(spec.loadMs).toBeLessThan(5_000);
    expect(spec.resources.size).toBeGreaterThan(1_000);
  });

  it('finds nothing wrong', () => {
    expect(checkCfnTemplate(template, spec).findings).toEqual([]);
  });

  it('judged every resource, and the properties nested in them', () => {
    const { checked } = checkCfnTemplate(template, spec);
    expect(checked.resources).toBe(Object.keys(template.Resources).length);
    const topLevel = Object.values(template.Resources).reduce(
      (sum, r) => sum + Object.keys(r.Properties ?? {}).length,
      0,
    );
    expect(checked.properties).toBeGreaterThan(topLevel);
  });
});

describe('the CloudFormation referee catches a planted mistake', () => {
  it('an unknown property, naming the one it resembles', () => {
    const copy = planted(template, (t) => {
      const properties = bucket(t);
      properties.VersioningConfig = properties.VersioningConfiguration;
      delete properties.VersioningConfiguration;
    });
    expect(findings(copy)).toEqual([
      'CaBucket.Properties.VersioningConfig: AWS::S3::Bucket has no property VersioningConfig (did you mean VersioningConfiguration?)',
    ]);
  });

  it('an unknown property deep in a nested property type', () => {
    const copy = planted(template, (t) => {
      bucket(t).BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault = {
        SseAlgorithm: 'AES256',
      };
    });
    expect(findings(copy)).toEqual([
      'CaBucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault: ServerSideEncryptionByDefault requires SSEAlgorithm, missing',
      'CaBucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SseAlgorithm: ServerSideEncryptionByDefault has no property SseAlgorithm (did you mean SSEAlgorithm?)',
    ]);
  });

  it('a wrong type: a word for an integer, a string for an object, "yes" for a boolean', () => {
    const copy = planted(template, (t) => {
      resource(t, 'LoadCertificateLogGroup').Properties!.RetentionInDays = 'thirty';
      bucket(t).VersioningConfiguration = 'Enabled';
      bucket(t).PublicAccessBlockConfiguration.BlockPublicAcls = 'yes';
    });
    expect(findings(copy)).toEqual([
      'LoadCertificateLogGroup.Properties.RetentionInDays: expected an integer, found "thirty"',
      'CaBucket.Properties.PublicAccessBlockConfiguration.BlockPublicAcls: expected a boolean, found "yes"',
      'CaBucket.Properties.VersioningConfiguration: expected a VersioningConfiguration object, found "Enabled"',
    ]);
  });

  it('but not the conversions CloudFormation makes itself, nor an intrinsic in any place', () => {
    const copy = planted(template, (t) => {
      resource(t, 'LoadCertificateLogGroup').Properties!.RetentionInDays = '30';
      bucket(t).PublicAccessBlockConfiguration.BlockPublicAcls = 'true';
      resource(t, 'LoadCertificateLambdaFunction').Properties!.MemorySize = { Ref: 'AWS::NoValue' };
      bucket(t).VersioningConfiguration = { 'Fn::If': ['Versioned', { Status: 'Enabled' }, { Ref: 'AWS::NoValue' }] };
    });
    expect(findings(copy)).toEqual([]);
  });

  it('a value outside the allowed ones, deep in a nested list', () => {
    const copy = planted(template, (t) => {
      bucket(t).BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm =
        'AES-256';
    });
    expect(findings(copy)).toEqual([
      expect.stringMatching(
        /^CaBucket\.Properties\.BucketEncryption\.ServerSideEncryptionConfiguration\[0\]\.ServerSideEncryptionByDefault\.SSEAlgorithm: "AES-256" is not one of .*AES256/,
      ),
    ]);
  });

  it('a missing required property, at the top and nested', () => {
    const copy = planted(template, (t) => {
      delete resource(t, 'LoadCertificateLambdaFunction').Properties!.Role;
      bucket(t).BucketEncryption = {};
    });
    expect(findings(copy)).toEqual([
      'LoadCertificateLambdaFunction.Properties: AWS::Lambda::Function requires Role, missing',
      'CaBucket.Properties.BucketEncryption: BucketEncryption requires ServerSideEncryptionConfiguration, missing',
    ]);
  });

  it('a malformed tag', () => {
    const copy = planted(template, (t) => {
      bucket(t).Tags = [{ Key: 'team', Val: 'platform' }];
    });
    expect(findings(copy)).toEqual([
      'CaBucket.Properties.Tags[0].Val: a tag has only Key and Value',
      'CaBucket.Properties.Tags[0]: a tag needs Value',
    ]);
  });

  it('an unknown resource type', () => {
    const copy = planted(template, (t) => {
      resource(t, 'CaBucket').Type = 'AWS::S3::Buckets';
    });
    expect(findings(copy)).toEqual([
      'CaBucket: AWS::S3::Buckets is not a CloudFormation resource type (did you mean AWS::S3::Bucket?)',
    ]);
  });
});
