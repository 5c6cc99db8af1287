/**
 * s3rver's notifications as the events S3 sends to EventBridge (S3 user guide, "EventBridge event
 * message structure"): `ObjectCreated:*` → `Object Created`, `ObjectRemoved:*` → `Object Deleted`.
 * The deployed bucket is versioned, so a plain DeleteObject there creates a delete marker:
 * `deletion-type: "Delete Marker Created"`. s3rver keeps no versions, so the local delete is read
 * as what the same call does on the deployed bucket, and the event carries no `version-id`.
 */
import { randomUUID } from 'node:crypto';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../app.ts';
import type { BusEvent } from './bus.ts';

export interface S3Record {
  eventName: string;
  eventTime: string;
  s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string; sequencer?: string } };
}

/**
 * A key as S3 writes it into event notifications: URL-encoded, a space as `+` ("red flower.pem"
 * arrives as "red+flower.pem"), `/` kept. The strictest reading of AWS's documentation, so the
 * pipeline is shown to find the object whether the key arrives encoded or as written.
 */
export const eventKey = (key: string): string =>
  key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%20/g, '+'))
    .join('/');

/** An s3rver notification record as the EventBridge event S3 sends for it; undefined for others. */
export const s3ToEventBridge = (record: S3Record): BusEvent | undefined => {
  const created = record.eventName.startsWith('ObjectCreated:');
  if (!created && !record.eventName.startsWith('ObjectRemoved:')) return undefined;
  const { bucket, object } = record.s3;
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': created ? 'Object Created' : 'Object Deleted',
    source: 'aws.s3',
    account: LOCAL_ACCOUNT,
    time: record.eventTime,
    region: LOCAL_REGION,
    resources: [`arn:aws:s3:::${bucket.name}`],
    detail: {
      version: '0',
      bucket: { name: bucket.name },
      object: {
        key: eventKey(object.key),
        ...(created && object.size !== undefined ? { size: object.size } : {}),
        ...(created && object.eTag ? { etag: object.eTag } : {}),
        ...(object.sequencer ? { sequencer: object.sequencer } : {}),
      },
      reason: created ? (record.eventName === 'ObjectCreated:Copy' ? 'CopyObject' : 'PutObject') : 'DeleteObject',
      ...(created ? {} : { 'deletion-type': 'Delete Marker Created' }),
    },
  };
};
