/**
 * serverless.yml's notification topic on the local bus: with `notifyEmail` set it exists, and the
 * pipeline's events reach its outbox (`<stateDir>/sns/NotificationTopic.jsonl`) as the email's
 * message; other sources do not.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { describe, expect, it } from 'vitest';
import { useLocalStack } from '../fixtures/stack.ts';

const local = useLocalStack({ params: { notifyEmail: 'ops@example.com' } });

describe('notifications with notifyEmail set', () => {
  it("sends the pipeline's events to the topic's outbox, and only those", async () => {
    const client = new EventBridgeClient({ maxAttempts: 1 });
    const answer = await client.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'iot-ca-pipeline',
            DetailType: 'CA Expiring',
            Detail: JSON.stringify({ certificateId: 'c', cause: 'e' }),
          },
          { Source: 'someone-else', DetailType: 'CA Expiring', Detail: '{}' },
        ],
      }),
    );
    client.destroy();
    expect(answer.FailedEntryCount).toBe(0);
    const outbox = readFileSync(join(local.stateDir, 'sns', 'NotificationTopic.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(outbox).toHaveLength(1);
    const message = JSON.parse(outbox[0] as string);
    expect(message.topic).toMatch(/^arn:aws:sns:us-east-1:000000000000:iot-ca-pipeline-local-notifications$/);
    expect(JSON.parse(message.message)).toMatchObject({
      id: answer.Entries?.[0]?.EventId,
      source: 'iot-ca-pipeline',
      'detail-type': 'CA Expiring',
      detail: { certificateId: 'c', cause: 'e' },
    });
  });
});
