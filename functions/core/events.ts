/**
 * The pipeline's own events on the default EventBridge bus (README "CA lifecycle"): one source,
 * one detail-type per thing that happened. Each detail is documented by a JSON Schema under
 * schemas/events/ (`npm run schemas`). Details never carry certificate bodies or key material.
 */

/** `source` of every event the pipeline publishes. */
export const EVENT_SOURCE = 'iot-ca-pipeline';

/** The detail-types, the contract rules and subscribers match on. */
export const DETAIL_TYPES = [
  'CA Registered',
  'CA Registration Failed',
  'CA Expiring',
  'CA Drift Repaired',
  'CA Retired',
] as const;

export type DetailType = (typeof DETAIL_TYPES)[number];

/** One event to publish: what happened, its detail, and the ARNs it concerns. */
export interface PipelineEvent {
  detailType: DetailType;
  detail: Record<string, unknown>;
  /** ARNs of what the event is about (the CA's certificateArn), EventBridge's `resources`. */
  resources?: string[];
}
