/**
 * What the deployment's own serverless.yml says about a dropped file, read by the CLI so it can
 * refuse or explain before uploading: which keys its EventBridge rule starts the pipeline for,
 * and the options an object gets when its metadata says nothing.
 */
import { loadApp, PROJECT_ROOT, type App } from '../local/app.ts';
import { parseCertificateMode, parseTags, type CertificateMode, type Tags } from '../functions/core/options.ts';

/** One filter of the rule's `detail.object.key` list, as EventBridge content filtering matches it. */
type KeyFilter = string | { wildcard?: string; prefix?: string; suffix?: string };

export interface TriggerRule {
  /** The rule's key filters with the incoming prefix filled in, as people read them (`incoming/*.pem`). */
  patterns: string[];
  matches: (key: string) => boolean;
}

export interface Defaults {
  certificateMode: CertificateMode;
  templateName: string;
  tags: Tags;
}

const apps = new Map<string, App>();
const appFor = (stage: string): App => {
  let app = apps.get(stage);
  if (!app) apps.set(stage, (app = loadApp(PROJECT_ROOT, stage)));
  return app;
};

const escape = (text: string): string => text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

/**
 * The key filters of the rule that starts register-ca (the one Events rule with an object-key
 * pattern), with `${param:incomingPrefix}` resolved to the prefix the target really uses (its stack
 * output when deployed), so a stage with another prefix is judged by its own.
 */
export const triggerRule = (incomingPrefix: string): TriggerRule => {
  const { resources, resolve } = appFor('local');
  const rule = Object.values(resources).find((resource) => resource.Type === 'AWS::Events::Rule' && resource.Properties.EventPattern?.detail?.object?.key);
  const filters: KeyFilter[] = rule?.Properties.EventPattern.detail.object.key ?? [];
  const fill = (text: string) => resolve(text, { 'param:incomingPrefix': incomingPrefix });
  const compiled = filters.map((filter) => {
    if (typeof filter === 'string') return { pattern: fill(filter), regex: new RegExp(`^${escape(fill(filter))}$`) };
    if (filter.wildcard !== undefined) {
      const wildcard = fill(filter.wildcard);
      return { pattern: wildcard, regex: new RegExp(`^${wildcard.split('*').map(escape).join('.*')}$`) };
    }
    if (filter.prefix !== undefined) return { pattern: `${fill(filter.prefix)}*`, regex: new RegExp(`^${escape(fill(filter.prefix))}`) };
    const suffix = fill(filter.suffix ?? '');
    return { pattern: `*${suffix}`, regex: new RegExp(`${escape(suffix)}$`) };
  });
  return { patterns: compiled.map((entry) => entry.pattern), matches: (key) => compiled.some((entry) => entry.regex.test(key)) };
};

/** serverless.yml's `params.default`: the options of an object whose metadata says nothing. */
export const deploymentDefaults = (stage = 'local'): Defaults => {
  const params = appFor(stage).params;
  return {
    certificateMode: parseCertificateMode(params.certificateMode ?? 'DEFAULT', 'serverless.yml params.certificateMode'),
    templateName: params.templateName ?? `iot-ca-${stage}-jitp`,
    tags: parseTags(params.defaultTags ?? '', 'serverless.yml params.defaultTags'),
  };
};
