/**
 * `iot-ca check-template <name|file> [--device device.pem]`: a JITP template against AWS's rules
 * and, given a device certificate, what JITP would make of that device — offline for a file, one
 * DescribeProvisioningTemplate for a name.
 */
import { existsSync } from 'node:fs';
import { describeTemplate, requireJitpType } from '../../functions/aws/iot.ts';
import { remedyFor } from '../../functions/core/errors.ts';
import { checkTemplate, evaluateTemplate, type TemplateEvaluation } from '../../functions/core/jitp-template.ts';
import { parseTemplateName } from '../../functions/core/options.ts';
import type { GlobalOptions } from '../context.ts';
import { readText } from '../files.ts';
import { withTarget } from '../flow.ts';
import { CliError, type Output } from '../output.ts';
import { checkTemplateText, type TemplateVerdict } from '../render.ts';

export interface CheckTemplateOptions {
  device?: string;
}

interface TemplateSource {
  /** What the operator named: a file path, or a template in the account. */
  source: 'file' | 'deployed' | 'local';
  reference: string;
  body: string;
}

/**
 * A file holds the body itself, or a DescribeProvisioningTemplate / registration-config document
 * with `templateBody` (a string, as AWS returns it); a described template must be of type JITP.
 */
export const bodyOfFile = (text: string, path: string): string => {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return text; // The check names it: not valid JSON.
  }
  if (typeof document !== 'object' || document === null || !('templateBody' in document)) return text;
  const described = document as { templateBody: unknown; templateName?: unknown; type?: unknown };
  if (typeof described.type === 'string')
    requireJitpType({ templateName: String(described.templateName ?? path), type: described.type });
  if (typeof described.templateBody === 'string') return described.templateBody;
  throw new CliError('InvalidTemplateFileError', `${path}: templateBody must be the template as a JSON string.`);
};

const fromAccount = async (name: string, global: GlobalOptions, out: Output): Promise<TemplateSource> => {
  const templateName = parseTemplateName(name, 'the template name');
  return withTarget(global, out, async (target) => {
    const template = await describeTemplate(target.iot, templateName);
    requireJitpType(template);
    return {
      source: global.local ? 'local' : 'deployed',
      reference: templateName,
      body: template.templateBody ?? '',
    };
  });
};

const resolveSource = async (reference: string, global: GlobalOptions, out: Output): Promise<TemplateSource> => {
  if (existsSync(reference)) {
    return { source: 'file', reference, body: bodyOfFile(readText(reference, 'template file'), reference) };
  }
  // Template names are 1-36 of A-Z a-z 0-9 _ -: anything else was meant as a file.
  if (!/^[0-9A-Za-z_-]{1,36}$/.test(reference))
    throw new CliError(
      'FileNotFoundError',
      `Cannot read the template file ${reference}: ENOENT (and it is not a template name: 1-36 characters of A-Z a-z 0-9 _ -).`,
    );
  return fromAccount(reference, global, out);
};

const verdictOf = (template: TemplateSource, evaluation: TemplateEvaluation): TemplateVerdict => {
  const base = { template: { source: template.source, reference: template.reference } };
  if (evaluation.outcome === 'INVALID_TEMPLATE')
    return { ...base, ...evaluation, remedy: remedyFor('InvalidTemplateError') };
  return { ...base, ...evaluation };
};

export const checkTemplateCommand = async (
  reference: string,
  options: CheckTemplateOptions,
  global: GlobalOptions,
  out: Output,
): Promise<number> => {
  // The device file first: a typo there should not cost a round trip to AWS.
  const devicePem = options.device ? readText(options.device, 'device certificate') : undefined;
  const template = await resolveSource(reference, global, out);
  let verdict: TemplateVerdict;
  if (devicePem === undefined) {
    const check = checkTemplate(template.body);
    verdict =
      check.problems.length > 0
        ? verdictOf(template, { outcome: 'INVALID_TEMPLATE', problems: check.problems, warnings: check.warnings })
        : { template: { source: template.source, reference: template.reference }, outcome: 'VALID', ...check };
  } else {
    verdict = verdictOf(template, evaluateTemplate(template.body, devicePem));
  }
  out.result(verdict, checkTemplateText(verdict));
  return verdict.outcome === 'PROVISIONED' || verdict.outcome === 'VALID' ? 0 : 1;
};
