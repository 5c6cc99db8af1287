/** The schedule rules serverless.yml declares, as the embedded stack runs them (rate() only). */
import type { App } from './app.ts';

/** A schedule rule of serverless.yml: how often, and the input it starts the state machine with. */
export interface ScheduleRule {
  name: string;
  everyMs: number;
  /** The rule's Input with the CA bucket resolved (what `!Sub` does at deploy time). */
  input: unknown;
}

const RATE_UNITS: Record<string, number> = {
  minute: 60_000,
  minutes: 60_000,
  hour: 3_600_000,
  hours: 3_600_000,
  day: 86_400_000,
  days: 86_400_000,
};

/** `rate(1 hour)` → milliseconds; cron() expressions are not run locally. */
export const rateToMs = (expression: string): number | undefined => {
  const match = /^rate\((\d+) (\w+)\)$/.exec(expression.trim());
  const unit = match ? RATE_UNITS[match[2] as string] : undefined;
  return match && unit ? Number(match[1]) * unit : undefined;
};

export const scheduleRules = (app: App, bucket: string): ScheduleRule[] =>
  Object.entries(app.resources).flatMap(([name, resource]) => {
    const expression: string | undefined =
      resource.Type === 'AWS::Events::Rule' ? resource.Properties.ScheduleExpression : undefined;
    const everyMs = expression ? rateToMs(app.resolve(expression)) : undefined;
    const input: string | undefined = resource.Properties.Targets?.[0]?.Input;
    return everyMs && input
      ? [{ name, everyMs, input: JSON.parse(app.resolve(input, { CaBucket: bucket })) as unknown }]
      : [];
  });
