/**
 * Provisioning templates (AWS-IOT-RULES.md "Provisioning templates"): the JITP templates a CA
 * names in its registration config, and the body rules AWS applies to them.
 */
import { iotError, invalid, notFound } from './errors.ts';
import { pageOf, pageSizeOf } from './paging.ts';
import type { RecordStore } from './store.ts';
import { type TagList, type Taggable, tagsOf, validateTags } from './tags.ts';

export interface TemplateRecord {
  templateName: string;
  templateArn: string;
  description?: string;
  templateBody: string;
  enabled: boolean;
  provisioningRoleArn: string;
  type: 'FLEET_PROVISIONING' | 'JITP';
  creationDate: number;
  lastModifiedDate: number;
  defaultVersionId: number;
  tags: Record<string, string>;
}

export const TEMPLATE_NAME = /^[0-9A-Za-z_-]{1,36}$/;
const JITP_PARAMETERS = new Set(
  [
    'Country',
    'Organization',
    'OrganizationalUnit',
    'DistinguishedNameQualifier',
    'StateName',
    'CommonName',
    'SerialNumber',
    'Id',
  ].map((name) => `AWS::IoT::Certificate::${name}`),
);
const TEMPLATE_RESOURCE_TYPES = new Set(['AWS::IoT::Thing', 'AWS::IoT::Certificate', 'AWS::IoT::Policy']);

/** What the models share: the account's coordinates, its clock and where writes are tracked. */
export interface AccountContext {
  region: string;
  account: string;
  /** Seconds since the epoch, as AWS's timestamps. */
  epoch: () => number;
  track: (write: Promise<void>) => void;
}

export class ProvisioningTemplates {
  constructor(
    private readonly records: Map<string, TemplateRecord>,
    private readonly store: RecordStore<TemplateRecord>,
    private readonly context: AccountContext,
  ) {}

  arn(name: string): string {
    return `arn:aws:iot:${this.context.region}:${this.context.account}:provisioningtemplate/${name}`;
  }

  private save(record: TemplateRecord): void {
    this.context.track(this.store.put(record.templateName, record));
    this.records.set(record.templateName, record);
  }

  /** A template a CA's registration config names: it must exist and be of type JITP. */
  requireJitp(templateName: string): void {
    if (!TEMPLATE_NAME.test(templateName)) throw invalid(`Invalid templateName: ${templateName}`);
    const template = this.records.get(templateName);
    if (!template) throw notFound(`The provisioning template ${templateName} does not exist.`);
    if (template.type !== 'JITP') throw invalid(`The provisioning template ${templateName} is not a JITP template.`);
  }

  /** The template behind `arn`, for the tag operations; undefined when there is none. */
  taggable(arn: string): Taggable | undefined {
    const name = /:provisioningtemplate\/([0-9A-Za-z_-]+)$/.exec(arn)?.[1];
    const record = name ? this.records.get(name) : undefined;
    if (!record || record.templateArn !== arn) return undefined;
    return { tags: record.tags, save: (tags) => this.save({ ...record, tags }) };
  }

  create(body: {
    templateName?: string;
    description?: string;
    templateBody?: string;
    enabled?: boolean;
    provisioningRoleArn?: string;
    type?: string;
    tags?: TagList;
  }) {
    const name = body.templateName ?? '';
    if (!TEMPLATE_NAME.test(name)) throw invalid(`Invalid templateName: ${name}`);
    if (this.records.has(name)) {
      throw iotError('ResourceAlreadyExistsException', `The provisioning template ${name} already exists.`, {
        resourceId: name,
        resourceArn: this.arn(name),
      });
    }
    const role = body.provisioningRoleArn ?? '';
    if (role.length < 20 || role.length > 2048) throw invalid('provisioningRoleArn must be 20-2048 characters.');
    const type = body.type ?? 'FLEET_PROVISIONING';
    if (type !== 'FLEET_PROVISIONING' && type !== 'JITP') throw invalid(`Invalid type: ${type}`);
    validateTemplateBody(body.templateBody ?? '', type);
    const tags = tagsOf(body.tags);
    validateTags(tags);
    const epoch = this.context.epoch();
    const record: TemplateRecord = {
      templateName: name,
      templateArn: this.arn(name),
      ...(body.description ? { description: body.description } : {}),
      templateBody: body.templateBody as string,
      enabled: body.enabled ?? false,
      provisioningRoleArn: role,
      type,
      creationDate: epoch,
      lastModifiedDate: epoch,
      defaultVersionId: 1,
      tags,
    };
    this.save(record);
    return { templateArn: record.templateArn, templateName: name, defaultVersionId: 1 };
  }

  describe(name: string) {
    if (!TEMPLATE_NAME.test(name)) throw invalid(`Invalid templateName: ${name}`);
    const template = this.records.get(name);
    if (!template) throw notFound(`The provisioning template ${name} does not exist.`);
    const { tags: _tags, ...description } = template;
    return description;
  }

  list(query: { maxResults?: string; nextToken?: string }) {
    const all = [...this.records.values()].sort((a, b) => a.templateName.localeCompare(b.templateName));
    const { page, next } = pageOf(all, query.nextToken, pageSizeOf(query.maxResults, 'maxResults'), 'nextToken');
    return {
      templates: page.map((t) => ({
        templateArn: t.templateArn,
        templateName: t.templateName,
        ...(t.description ? { description: t.description } : {}),
        creationDate: t.creationDate,
        lastModifiedDate: t.lastModifiedDate,
        enabled: t.enabled,
        type: t.type,
      })),
      ...(next ? { nextToken: next } : {}),
    };
  }
}

/** The provisioning-template body rules of AWS-IOT-RULES.md. */
export const validateTemplateBody = (text: string, type: string): void => {
  if (text.length < 1 || text.length > 10240) throw invalid('templateBody must be 1-10240 characters.');
  let body: {
    Parameters?: Record<string, unknown>;
    Resources?: Record<string, { Type?: string; Properties?: Record<string, unknown> }>;
  };
  try {
    body = JSON.parse(text);
  } catch {
    throw invalid('templateBody is not valid JSON.');
  }
  if (typeof body !== 'object' || body === null || typeof body.Resources !== 'object')
    throw invalid('templateBody must have Resources.');
  if (type === 'JITP') {
    for (const parameter of Object.keys(body.Parameters ?? {})) {
      if (!JITP_PARAMETERS.has(parameter))
        throw invalid(`JITP templates may only use AWS::IoT::Certificate:: parameters; got ${parameter}.`);
    }
  }
  for (const [name, resource] of Object.entries(body.Resources ?? {})) {
    if (!TEMPLATE_RESOURCE_TYPES.has(resource?.Type ?? ''))
      throw invalid(`Resource ${name} has unsupported type ${resource?.Type}.`);
    if (resource.Type === 'AWS::IoT::Policy') {
      const hasName = resource.Properties?.PolicyName !== undefined;
      const hasDocument = resource.Properties?.PolicyDocument !== undefined;
      if (hasName === hasDocument)
        throw invalid(`Policy ${name} must have exactly one of PolicyName and PolicyDocument.`);
    }
  }
};
