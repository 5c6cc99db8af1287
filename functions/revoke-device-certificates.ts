import type { IoTClient } from '@aws-sdk/client-iot';
import { createIotClient } from './aws/iot.ts';
import { listCertificatesByCa, revokeCertificate, throttled } from './aws/retire.ts';
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
 * One bounded pass of revocation: lists the CA's device certificates again (what an earlier pass
 * or a crashed one revoked shows REVOKED and is skipped), then UpdateCertificate REVOKED for the
 * others, one at a time under the quota, until the time budget is spent. `remaining` tells the
 * state machine's loop to run another pass.
 */
export const revokeDeviceCertificates = async (
  deps: RevokeDeps,
  event: z.infer<typeof RevokeDeviceCertificatesInputSchema>,
): Promise<RevokeProgress> => {
  const now = deps.now ?? Date.now;
  const deadline = now() + deps.budgetMs;
  const listed = await listCertificatesByCa(deps.iot, event.certificateId, deps.tps);
  const toRevoke = listed.filter((certificate) => certificate.status !== 'REVOKED');
  const revoke = throttled(deps.tps, (certificateId: string) => revokeCertificate(deps.iot, certificateId));
  let revoked = event.revoked ?? 0;
  let refused = 0;
  let done = 0;
  // At least a second's worth of calls a pass, however long the listing took: the loop always advances.
  const minimum = Math.max(1, Math.ceil(deps.tps));
  for (const certificate of toRevoke) {
    if (now() >= deadline && done >= minimum) break;
    const outcome = await revoke(certificate.certificateId);
    done += 1;
    if (outcome === 'revoked') revoked += 1;
    if (outcome === 'refused') refused += 1;
  }
  const remaining = done < toRevoke.length;
  logger.info('revocation pass', { listed: listed.length, revokedThisPass: done - refused, refused, remaining });
  return { revoked, remaining, listed: listed.length, refused };
};

const config = readRetireConfig();
const deps: RevokeDeps = { iot: createIotClient(), tps: config.tps, budgetMs: config.revokeBudgetMs };
export const handler = step(
  { input: RevokeDeviceCertificatesInputSchema, output: RevokeDeviceCertificatesOutputSchema },
  (event) => revokeDeviceCertificates(deps, event),
);
