/** The trigger as the CLI reads it from serverless.yml, for a deployed stack's own prefix. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { deploymentDefaults, triggerRule } from '../../cli/rule.ts';

const declared = (): string[] => {
  const config = parse(readFileSync('serverless.yml', 'utf8'), { logLevel: 'silent' }) as any;
  const rule = Object.values(config.resources.Resources as Record<string, any>).find(
    (r) => r.Type === 'AWS::Events::Rule' && r.Properties.EventPattern,
  );
  return rule.Properties.EventPattern.detail.object.key.map((filter: { wildcard: string }) => filter.wildcard);
};

describe('the trigger rule the CLI reads', () => {
  it("fills in a deployed stack's incoming prefix (its stack output), whatever serverless.yml's default", () => {
    const rule = triggerRule('ca-drop/v2/');
    expect(rule.patterns).toEqual(
      declared().map((wildcard) => wildcard.replace('${param:incomingPrefix}', 'ca-drop/v2/')),
    );
    const suffix = (declared()[0] as string).split('*').at(-1) as string;
    expect(rule.matches(`ca-drop/v2/root${suffix}`)).toBe(true);
    expect(rule.matches(`ca-drop/v2/sub/dir/root${suffix}`)).toBe(true);
    expect(rule.matches(`incoming/root${suffix}`)).toBe(false);
    expect(rule.matches('ca-drop/v2/root.cer')).toBe(false);
  });

  it("names the stage's default template as serverless.yml does", () => {
    expect(deploymentDefaults('prod').templateName).toBe('iot-ca-prod-jitp');
  });
});
