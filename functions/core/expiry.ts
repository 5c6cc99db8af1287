/**
 * One expiry threshold for the whole pipeline: the pre-flight's warning and reconciliation's
 * `expiring` finding both compare against the deployment's `expiryWarningDays` (Device Defender's
 * CA_CERTIFICATE_EXPIRING_CHECK uses 30 days too).
 */
export const DEFAULT_EXPIRY_WARNING_DAYS = 30;

const DAY_MS = 86_400_000;

/** Whether the certificate ends within the threshold. Compares times: only the figure shown is rounded. */
export const expiresWithin = (notAfter: Date, days: number, now: Date = new Date()): boolean =>
  notAfter.getTime() - now.getTime() < days * DAY_MS;

/** Days left, rounded up: a certificate made with `-days 10` shows 10 on its first day. */
export const daysLeft = (notAfter: Date, now: Date = new Date()): number =>
  Math.ceil((notAfter.getTime() - now.getTime()) / DAY_MS);
