/**
 * What the deployment's own serverless.yml says about a dropped file, read by the CLI so it can
 * refuse or explain before uploading: which keys its EventBridge rule starts the pipeline for,
 * and the options an object gets when its metadata says nothing.
 */
import { keyMatcher, loadApp, PROJECT_ROOT, uploadKeyFilters, type App, type KeyMatcher } from '../local/app.ts';
import { parseCertificateMode, parseTags, type CertificateMode, type Tags } from '../functions/core/options.ts';

/** The rule's key filters with the incoming prefix filled in. */
export type TriggerRule = KeyMatcher;

export interface Defaults {
  certificateMode: CertificateMode;
  templateName: string;
  tags: Tags;
}

const apps = new Map<string, App>();
const appFor = (stage: string): App => {
  const app = apps.get(stage) ?? loadApp(PROJECT_ROOT, stage);
  apps.set(stage, app);
  return app;
};

/**
 * The key filters of the rule that starts register-ca (the one Events rule with an object-key
 * pattern), with `${param:incomingPrefix}` resolved to the prefix the target really uses (its stack
 * output when deployed), so a stage with another prefix is judged by its own.
 */
export const triggerRule = (incomingPrefix: string): TriggerRule => {
  const app = appFor('local');
  return keyMatcher(uploadKeyFilters(app), (text) => app.resolve(text, { 'param:incomingPrefix': incomingPrefix }));
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
