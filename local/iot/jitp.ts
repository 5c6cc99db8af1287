/**
 * A JITP template applied to a device certificate, as AWS IoT does on the device's first connection
 * (docs/aws-iot-rules.md, "JITP"): parameters only from the certificate's subject (and the internal
 * certificate id), defaults where the template gives them, the intrinsic functions provisioning
 * templates support, and the Thing, Certificate and Policy resources that result. Pure: the
 * registry (registry.ts) decides what to do with the plan or the reason it could not be made.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { CertificateStatus } from './certificates.ts';

/** AWS's JITP parameters and the subject attribute (OID) each is read from. */
export const JITP_SUBJECT_FIELDS: Readonly<Record<string, string>> = {
  'AWS::IoT::Certificate::Country': '2.5.4.6',
  'AWS::IoT::Certificate::Organization': '2.5.4.10',
  'AWS::IoT::Certificate::OrganizationalUnit': '2.5.4.11',
  'AWS::IoT::Certificate::DistinguishedNameQualifier': '2.5.4.46',
  'AWS::IoT::Certificate::StateName': '2.5.4.8',
  'AWS::IoT::Certificate::CommonName': '2.5.4.3',
  'AWS::IoT::Certificate::SerialNumber': '2.5.4.5',
};
export const CERTIFICATE_ID_PARAMETER = 'AWS::IoT::Certificate::Id';

/** Why a template could not be applied to a certificate: AWS counts it as a provisioning client error. */
export class TemplateError extends Error {
  override readonly name = 'ProvisioningTemplateError';
}

export interface JitpPlan {
  thing?: { name: string; attributes: Record<string, string>; thingTypeName?: string; thingGroups: string[] };
  /** The status the template's Certificate resource sets (ACTIVE when it names none). */
  certificateStatus: CertificateStatus;
  /** Each policy by name, with its document when the template declares one. */
  policies: Array<{ name?: string; document?: string }>;
}

/** The JITP parameters a device certificate's subject provides (the first value of each attribute). */
export const subjectParameters = (der: ArrayBuffer | Uint8Array, certificateId: string): Record<string, string> => {
  const subject = new x509.X509Certificate(der as BufferSource).subjectName;
  const parameters: Record<string, string> = { [CERTIFICATE_ID_PARAMETER]: certificateId };
  for (const [parameter, oid] of Object.entries(JITP_SUBJECT_FIELDS)) {
    const value = subject.getField(oid)[0];
    if (value !== undefined) parameters[parameter] = value;
  }
  return parameters;
};

interface Template {
  Parameters?: Record<string, { Type?: string; Default?: unknown }>;
  Mappings?: Record<string, Record<string, Record<string, unknown>>>;
  Conditions?: Record<string, unknown>;
  Resources?: Record<string, { Type?: string; Condition?: string; Properties?: Record<string, unknown> }>;
}

/**
 * The intrinsic functions AWS's provisioning-template page names: Ref (parameters), Fn::Join,
 * Fn::Select, Fn::FindInMap, Fn::Split and Fn::Sub. CloudFormation's condition functions are not
 * among them: a template using them fails, as any other function.
 */
const FUNCTIONS = new Set(['Ref', 'Fn::Join', 'Fn::Select', 'Fn::Split', 'Fn::FindInMap', 'Fn::Sub']);

/** Fn::Sub's `${Name}` from the function's own variables, else the parameters; `${!Literal}` stays `${Literal}`. */
const substitute = (text: string, variables: Record<string, unknown>, values: Record<string, string>): string =>
  text.replace(/\$\{([^}]*)\}/g, (_whole, inside: string) => {
    if (inside.startsWith('!')) return `\${${inside.slice(1)}}`;
    const name = inside.trim();
    if (name in variables) return String(variables[name]);
    if (name in values) return values[name] as string;
    throw new TemplateError(`Fn::Sub \${${name}} names no parameter of the template`);
  });

/** Resolves intrinsic functions in `value`, bottom up. */
const resolver = (template: Template, values: Record<string, string>) => {
  const list = (value: unknown, fn: string): unknown[] => {
    const resolved = resolve(value);
    if (!Array.isArray(resolved)) throw new TemplateError(`${fn} needs a list`);
    return resolved;
  };
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (typeof value !== 'object' || value === null) return value;
    const keys = Object.keys(value);
    const fn = keys[0] as string;
    if (keys.length !== 1 || !(fn === 'Ref' || fn.startsWith('Fn::')))
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, resolve(inner)]));
    if (!FUNCTIONS.has(fn))
      throw new TemplateError(`the intrinsic function ${fn} is not supported in provisioning templates`);
    const argument = (value as Record<string, unknown>)[fn];
    switch (fn) {
      case 'Ref': {
        const name = String(argument);
        if (!(name in values)) throw new TemplateError(`Ref ${name} names no parameter of the template`);
        return values[name];
      }
      case 'Fn::Join': {
        const [delimiter, items] = list(argument, fn);
        return list(items, fn).map(String).join(String(delimiter));
      }
      case 'Fn::Select': {
        const [index, items] = list(argument, fn);
        const chosen = list(items, fn)[Number(index)];
        if (chosen === undefined) throw new TemplateError(`Fn::Select index ${String(index)} is out of range`);
        return chosen;
      }
      case 'Fn::Split': {
        const [delimiter, text] = list(argument, fn);
        return String(text).split(String(delimiter));
      }
      case 'Fn::FindInMap': {
        const [map, top, second] = list(argument, fn).map(String);
        const found = template.Mappings?.[map as string]?.[top as string]?.[second as string];
        if (found === undefined) throw new TemplateError(`Fn::FindInMap found nothing at ${map}.${top}.${second}`);
        return found;
      }
      default: {
        // Fn::Sub: a string, or [string, { variable: value }].
        const [text, variables = {}] = (Array.isArray(argument) ? resolve(argument) : [argument]) as [unknown, object];
        if (typeof text !== 'string') throw new TemplateError('Fn::Sub needs a string');
        return substitute(text, variables as Record<string, unknown>, values);
      }
    }
  };
  return { resolve };
};

const text = (value: unknown, what: string): string => {
  if (typeof value !== 'string' || value === '') throw new TemplateError(`${what} must resolve to a non-empty string`);
  return value;
};

/** The resources `templateBody` makes for a certificate with these `parameters`, or a TemplateError. */
export const planJitp = (templateBody: string, parameters: Record<string, string>): JitpPlan => {
  let template: Template;
  try {
    template = JSON.parse(templateBody) as Template;
  } catch {
    throw new TemplateError('the template body is not valid JSON');
  }
  const values: Record<string, string> = {};
  for (const [name, declaration] of Object.entries(template.Parameters ?? {})) {
    const value = parameters[name] ?? (declaration?.Default !== undefined ? String(declaration.Default) : undefined);
    if (value === undefined) {
      const field = name.startsWith('AWS::IoT::Certificate::') ? name.slice('AWS::IoT::Certificate::'.length) : name;
      throw new TemplateError(
        `the device certificate's subject has no ${field} for the parameter ${name}, and the template gives no Default`,
      );
    }
    values[name] = value;
  }
  if (template.Conditions !== undefined)
    throw new TemplateError('provisioning templates have no Conditions section (AWS names no condition function)');
  const { resolve } = resolver(template, values);
  const plan: JitpPlan = { certificateStatus: 'ACTIVE', policies: [] };
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    if (resource.Condition !== undefined) throw new TemplateError(`${logicalId} has a Condition; templates have none`);
    const properties = resolve(resource.Properties ?? {}) as Record<string, unknown>;
    switch (resource.Type) {
      case 'AWS::IoT::Thing': {
        if (plan.thing) throw new TemplateError('a template may declare one Thing');
        const attributes = (properties.AttributePayload ?? {}) as Record<string, unknown>;
        plan.thing = {
          name: text(properties.ThingName, `${logicalId}.ThingName`),
          attributes: Object.fromEntries(Object.entries(attributes).map(([key, value]) => [key, String(value)])),
          ...(properties.ThingTypeName ? { thingTypeName: String(properties.ThingTypeName) } : {}),
          thingGroups: ((properties.ThingGroups ?? []) as unknown[]).map(String),
        };
        break;
      }
      case 'AWS::IoT::Certificate': {
        if (properties.CertificateId !== parameters[CERTIFICATE_ID_PARAMETER])
          throw new TemplateError(`${logicalId}.CertificateId must be { "Ref": "${CERTIFICATE_ID_PARAMETER}" }`);
        const status = properties.Status ?? 'ACTIVE';
        if (status !== 'ACTIVE' && status !== 'INACTIVE')
          throw new TemplateError(`${logicalId}.Status must be ACTIVE or INACTIVE, not ${String(status)}`);
        plan.certificateStatus = status;
        break;
      }
      case 'AWS::IoT::Policy': {
        const name =
          properties.PolicyName === undefined ? undefined : text(properties.PolicyName, `${logicalId}.PolicyName`);
        const raw = properties.PolicyDocument;
        const document = raw === undefined ? undefined : typeof raw === 'string' ? raw : JSON.stringify(raw);
        if ((name === undefined) === (document === undefined))
          throw new TemplateError(`${logicalId} must have exactly one of PolicyName and PolicyDocument`);
        plan.policies.push({ ...(name ? { name } : {}), ...(document ? { document } : {}) });
        break;
      }
      default:
        throw new TemplateError(`${logicalId} has the unsupported type ${String(resource.Type)}`);
    }
  }
  return plan;
};
