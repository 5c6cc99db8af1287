import type { IoTClient } from '@aws-sdk/client-iot';
import { createIotClient } from './aws/iot.ts';
import { certificatePagesByCa, revokeCertificate, throttled } from './aws/retire.ts';
import { awsErrorName } from './aws/sdk-errors.ts';
import { step } from './lambda/middleware.ts';
import { readRetireConfig } from './lambda/config.ts';
import { logger } from './lambda/logger.ts';
import {
  RevokeDeviceCertificatesInputSchema,
  RevokeDeviceCertificatesOutputSchema,
  type RevokeProgress,
} from './core/retire.ts';
import type * as z from 'zod/mini';

export interface RevokeDeps {
  iot: IoTClient;
  tps: number;
  budgetMs: number;
  now?: () => number;
}

/**
 * One bounded pass of revocation: lists the CA's device certificates a page at a time from where
 * the last pass stopped (`marker`), and sets each one not REVOKED to REVOKED with UpdateCertificate,
 * one at a time under the quota, until the time budget is spent. A pass that stops returns the
 * marker of the page it was on, so the next lists that page again (what this one revoked there
 * shows REVOKED and is skipped) and goes on, rather than listing every page before it again. A
 * crashed pass is retried with the same marker; a marker IoT no longer takes restarts the listing
 * from the first page. `remaining` tells the state machine's loop to run another pass.
 */
export const revokeDeviceCertificates = async (
  deps: RevokeDeps,
  event: z.infer<typeof RevokeDeviceCertificatesInputSchema>,
): Promise<RevokeProgress> => {
  const now = deps.now ?? Date.now;
  const deadline = now() + deps.budgetMs;
  const revoke = throttled(deps.tps, (certificateId: string) => revokeCertificate(deps.iot, certificateId));
  let revoked = event.revoked ?? 0;
  let refused = event.refused ?? 0;
  let done = 0;
  let listed = 0;
  // At least a second's worth of calls a pass, however long the listing took: the loop always advances.
  const minimum = Math.max(1, Math.ceil(deps.tps));
  const progress = (remaining: boolean, marker?: string): RevokeProgress => {
    logger.info('revocation pass', { listed, attempted: done, revoked, refused, remaining });
    return { revoked, remaining, listed, refused, marker: marker ?? null };
  };
  const pass = async (from: string | undefined): Promise<RevokeProgress> => {
    for await (const page of certificatePagesByCa(deps.iot, event.certificateId, deps.tps, from)) {
      listed += page.certificates.length;
      // A page's refusals count once, when a pass has been through the whole page: one that stops
      // part-way leaves them to the next, which lists the page again.
      let refusedHere = 0;
      for (const certificate of page.certificates) {
        if (certificate.status === 'REVOKED') continue;
        // IoT refuses to change the status of a certificate pending transfer: counted, not asked.
        if (certificate.status === 'PENDING_TRANSFER') {
          refusedHere += 1;
          continue;
        }
        if (now() >= deadline && done >= minimum) return progress(true, page.marker);
        const outcome = await revoke(certificate.certificateId);
        done += 1;
        if (outcome === 'revoked') revoked += 1;
        if (outcome === 'refused') refusedHere += 1;
      }
      refused += refusedHere;
    }
    return progress(false);
  };
  // The loop starts with "" (the Framework's file loader drops a null from the deployed definition).
  const from = event.marker || undefined;
  try {
    return await pass(from);
  } catch (error) {
    if (from === undefined || awsErrorName(error) !== 'InvalidRequestException' || listed > 0) throw error;
    logger.warn('revocation marker refused: listing again from the first page', { errorName: awsErrorName(error) });
    return pass(undefined);
  }
};

const config = readRetireConfig();
const deps: RevokeDeps = { iot: createIotClient(), tps: config.tps, budgetMs: config.revokeBudgetMs };
export const handler = step(
  { input: RevokeDeviceCertificatesInputSchema, output: RevokeDeviceCertificatesOutputSchema },
  (event) => revokeDeviceCertificates(deps, event),
);
