/**
 * The local EventBridge on the wire: JSON 1.1, `X-Amz-Target: AWSEvents.PutEvents`, as
 * @aws-sdk/client-eventbridge speaks it, bound to 127.0.0.1 only. The stack points
 * AWS_ENDPOINT_URL_EVENTBRIDGE at it, so the functions' own EventBridgeClient reaches it unchanged.
 */
import { type AuthorizeJson, type RunningServer, startJson11Server } from '../json11.ts';
import type { BusEvent } from './bus.ts';
import { answerable, type Place, putEvents } from './operations.ts';

export const startEventsServer = (
  place: Place,
  put: (event: BusEvent) => void,
  port = 0,
  authorize?: AuthorizeJson,
): Promise<RunningServer> =>
  startJson11Server(
    {
      targetPrefix: 'AWSEvents',
      title: 'EventBridge',
      operations: { PutEvents: (body) => putEvents(body, place, put) },
      answerable,
    },
    port,
    authorize,
  );
