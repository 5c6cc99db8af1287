import {
  DescribeCACertificateCommand,
  type DescribeCACertificateCommandOutput,
  DescribeProvisioningTemplateCommand,
  GetRegistrationCodeCommand,
  IoTClient,
  paginateListTagsForResource,
  RegisterCACertificateCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateCACertificateCommand,
} from '@aws-sdk/client-iot';
import { awsCall, awsErrorName, awsPages, SDK_MAX_ATTEMPTS } from './sdk-errors.ts';
import { PipelineError } from '../core/errors.ts';
import { assertJitpTemplate } from '../core/jitp-template.ts';
import type { CertificateMode, Tags } from '../core/options.ts';
import type { RegisteredCa } from '../core/schemas.ts';

export const createIotClient = (): IoTClient => new IoTClient({ maxAttempts: SDK_MAX_ATTEMPTS });

/** Tags as IoT's API takes them. */
const toTagList = (tags: Tags): Array<{ Key: string; Value: string }> =>
  Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

export const getRegistrationCode = async (iot: IoTClient): Promise<string> => {
  const response = await awsCall('GetRegistrationCode', () => iot.send(new GetRegistrationCodeCommand({})));
  if (!response.registrationCode) throw new PipelineError('ServiceFaultError', 'GetRegistrationCode returned no code.');
  return response.registrationCode;
};

/** A CA as DescribeCACertificate shows it, with AWS's defaults filled in. */
export interface CaDescription {
  certificateId: string;
  certificateArn: string;
  status: string;
  certificateMode: string;
  autoRegistrationStatus: string;
  templateName?: string;
  notAfter?: Date;
}

/** The one DescribeCACertificate reader (the steps, reconciliation, the CLI); undefined when IoT has no such CA. */
export const describeCa = async (iot: IoTClient, certificateId: string): Promise<CaDescription | undefined> => {
  let response: DescribeCACertificateCommandOutput;
  try {
    response = await awsCall('DescribeCACertificate', () =>
      iot.send(new DescribeCACertificateCommand({ certificateId })),
    );
  } catch (error) {
    if (awsErrorName(error) === 'ResourceNotFoundException') return undefined;
    throw error;
  }
  const d = response.certificateDescription ?? {};
  return {
    certificateId,
    certificateArn: d.certificateArn ?? '',
    status: d.status ?? 'INACTIVE',
    certificateMode: d.certificateMode ?? 'DEFAULT',
    autoRegistrationStatus: d.autoRegistrationStatus ?? 'DISABLE',
    ...(response.registrationConfig?.templateName ? { templateName: response.registrationConfig.templateName } : {}),
    ...(d.validity?.notAfter ? { notAfter: d.validity.notAfter } : {}),
  };
};

export type { RegisteredCa } from '../core/schemas.ts';

export interface RegisterRequest {
  caPem: string;
  verificationPem?: string | undefined;
  certificateMode: CertificateMode;
  /** The JITP template and the tags to register the CA with (checked beforehand by the caller). */
  templateName?: string | undefined;
  tags?: Tags | undefined;
}

const REGISTER_ERRORS: Record<string, ConstructorParameters<typeof PipelineError>[0]> = {
  RegistrationCodeValidationException: 'RegistrationCodeMismatchError',
  CertificateValidationException: 'CertificateRejectedError',
  InvalidRequestException: 'CertificateRejectedError',
  LimitExceededException: 'CaLimitExceededError',
};

/**
 * RegisterCACertificate. With its template and tags in the same call (the flow always gives both,
 * docs/adr/0012) the CA is registered ACTIVE with auto-registration ENABLE: it is complete the
 * moment it exists, so nothing is left for an Activate step (docs/adr/0027). Without them it is
 * registered INACTIVE with auto-registration off, to be configured and activated afterwards.
 * Already registered → adopt it (a re-drop converges, it never fails), unless it was registered in
 * the other mode, which AWS cannot change in place.
 */
export const registerCaCertificate = async (iot: IoTClient, request: RegisterRequest): Promise<RegisteredCa> => {
  const complete = request.templateName !== undefined && request.tags !== undefined;
  try {
    const response = await awsCall('RegisterCACertificate', () =>
      iot.send(
        new RegisterCACertificateCommand({
          caCertificate: request.caPem,
          ...(request.certificateMode === 'DEFAULT' ? { verificationCertificate: request.verificationPem } : {}),
          certificateMode: request.certificateMode,
          setAsActive: complete,
          allowAutoRegistration: complete,
          ...(request.templateName ? { registrationConfig: { templateName: request.templateName } } : {}),
          ...(request.tags ? { tags: toTagList(request.tags) } : {}),
        }),
      ),
    );
    return {
      certificateId: response.certificateId as string,
      certificateArn: response.certificateArn as string,
      adopted: false,
      configured: complete,
      status: complete ? 'ACTIVE' : 'INACTIVE',
    };
  } catch (error) {
    const name = awsErrorName(error) ?? '';
    if (name === 'ResourceAlreadyExistsException') {
      const resourceId = (error as { resourceId?: string }).resourceId;
      return adopt(iot, resourceId, request.certificateMode, request.templateName);
    }
    const mapped = REGISTER_ERRORS[name];
    if (mapped)
      throw new PipelineError(mapped, `AWS IoT refused the CA: ${(error as Error).message}`, { cause: error });
    throw error;
  }
};

const adopt = async (
  iot: IoTClient,
  certificateId: string | undefined,
  mode: CertificateMode,
  templateName: string | undefined,
): Promise<RegisteredCa> => {
  if (!certificateId)
    throw new PipelineError('ServiceFaultError', 'RegisterCACertificate said the CA exists but named no resourceId.');
  const existing = await describeCa(iot, certificateId);
  // Deleted between the two calls: a retry registers it afresh.
  if (!existing)
    throw new PipelineError('ServiceFaultError', `CA ${certificateId} was reported as existing but is gone.`);
  const existingMode = existing.certificateMode;
  if (existingMode !== mode) {
    throw new PipelineError(
      'CertificateModeConflictError',
      `CA ${certificateId} is already registered in ${existingMode} mode; ${mode} was asked for.`,
    );
  }
  return {
    certificateId,
    certificateArn: existing.certificateArn,
    adopted: true,
    configured: false,
    status: existing.status,
    converged:
      existing.status === 'ACTIVE' &&
      existing.autoRegistrationStatus === 'ENABLE' &&
      templateName !== undefined &&
      existing.templateName === templateName,
  };
};

export interface TemplateDescription {
  templateName: string;
  /** `FLEET_PROVISIONING` when DescribeProvisioningTemplate names no type (AWS's default). */
  type: string;
  templateBody?: string;
}

/** DescribeProvisioningTemplate; a template that does not exist is `TemplateNotFoundError`. */
export const describeTemplate = async (iot: IoTClient, templateName: string): Promise<TemplateDescription> => {
  try {
    const template = await awsCall('DescribeProvisioningTemplate', () =>
      iot.send(new DescribeProvisioningTemplateCommand({ templateName })),
    );
    return {
      templateName,
      type: template.type ?? 'FLEET_PROVISIONING',
      ...(template.templateBody !== undefined ? { templateBody: template.templateBody } : {}),
    };
  } catch (error) {
    if (awsErrorName(error) === 'ResourceNotFoundException') {
      throw new PipelineError('TemplateNotFoundError', `Provisioning template "${templateName}" does not exist.`, {
        cause: error,
      });
    }
    throw error;
  }
};

/** A FLEET_PROVISIONING template cannot serve a CA. */
export const requireJitpType = (template: TemplateDescription): void => {
  if (template.type !== 'JITP') {
    throw new PipelineError(
      'TemplateNotJitpError',
      `Provisioning template "${template.templateName}" is of type ${template.type}, not JITP.`,
    );
  }
};

/**
 * The template exists, is of type JITP and its body meets AWS's JITP rules
 * (`assertJitpTemplate`), so no CA goes live with a template that would leave its devices in
 * PENDING_ACTIVATION. A description without a body (AWS always sends one) has nothing to judge.
 */
export const checkJitpTemplate = async (iot: IoTClient, templateName: string): Promise<void> => {
  const template = await describeTemplate(iot, templateName);
  requireJitpType(template);
  if (template.templateBody !== undefined) assertJitpTemplate(templateName, template.templateBody);
};

export const setCaTemplate = async (iot: IoTClient, certificateId: string, templateName: string): Promise<void> => {
  await awsCall('UpdateCACertificate', () =>
    iot.send(new UpdateCACertificateCommand({ certificateId, registrationConfig: { templateName } })),
  );
};

export const listTags = async (iot: IoTClient, resourceArn: string): Promise<Tags> => {
  const tags: Tags = {};
  for await (const page of awsPages(
    'ListTagsForResource',
    paginateListTagsForResource({ client: iot }, { resourceArn }),
  )) {
    for (const tag of page.tags ?? []) if (tag.Key) tags[tag.Key] = tag.Value ?? '';
  }
  return tags;
};

export interface TagChanges {
  set: Tags;
  removed: string[];
}

/** What to write and remove so the resource carries exactly `desired` (AWS's `aws:` tags aside). */
export const diffTags = (current: Tags, desired: Tags): TagChanges => ({
  set: Object.fromEntries(Object.entries(desired).filter(([key, value]) => current[key] !== value)),
  removed: Object.keys(current).filter((key) => !(key in desired) && !key.startsWith('aws:')),
});

/** Converges the CA's tags on `desired`: the pipeline owns the CA's tags, as Terraform does. */
export const convergeTags = async (iot: IoTClient, resourceArn: string, desired: Tags): Promise<TagChanges> => {
  const changes = diffTags(await listTags(iot, resourceArn), desired);
  const tags = toTagList(changes.set);
  if (tags.length > 0) await awsCall('TagResource', () => iot.send(new TagResourceCommand({ resourceArn, tags })));
  if (changes.removed.length > 0) {
    await awsCall('UntagResource', () => iot.send(new UntagResourceCommand({ resourceArn, tagKeys: changes.removed })));
  }
  return changes;
};
