/** What `list` and `status` read: the CAs IoT holds, each as a view, and the files dropped for them. */
import { paginateListCACertificates, type CACertificate } from '@aws-sdk/client-iot';
import pMap from 'p-map';
import { daysLeft } from '../functions/core/certificate.ts';
import { describeCa, listTags } from '../functions/aws/iot.ts';
import { PROVENANCE_TAGS } from '../functions/core/options.ts';
import type { Target } from './context.ts';
import { listKeys, readResult } from './follow.ts';
import { CliError } from './output.ts';

export interface CaView {
  certificateId: string;
  status: string;
  certificateMode: string;
  templateName: string | null;
  autoRegistration: string;
  notAfter: string | null;
  daysToExpiry: number | null;
  source: string | null;
  tags: Record<string, string>;
}

export const viewOf = async (target: Target, certificateId: string): Promise<CaView> => {
  const d = await describeCa(target.iot, certificateId);
  if (!d) throw new CliError('CaNotFoundError', `No CA certificate ${certificateId}.`);
  const tags = await listTags(target.iot, d.certificateArn);
  const notAfter = d.notAfter;
  return {
    certificateId,
    status: d.status,
    certificateMode: d.certificateMode,
    templateName: d.templateName ?? null,
    autoRegistration: d.autoRegistrationStatus,
    notAfter: notAfter?.toISOString() ?? null,
    daysToExpiry: notAfter ? daysLeft(notAfter) : null,
    source: tags[PROVENANCE_TAGS.key] ? `${tags[PROVENANCE_TAGS.bucket] ?? ''}/${tags[PROVENANCE_TAGS.key]}` : null,
    tags,
  };
};

export const listCaIds = async (target: Target): Promise<string[]> => {
  const certificates: CACertificate[] = [];
  for await (const page of paginateListCACertificates({ client: target.iot, pageSize: 250 }, { ascendingOrder: true }))
    certificates.push(...(page.certificates ?? []));
  return certificates.map((ca) => ca.certificateId as string);
};

/** A dropped file and what became of it: its receipt, its failure report, or nothing yet. */
export interface FileView {
  key: string;
  outcome: 'ACTIVE' | 'FAILED' | 'PENDING';
  certificateId: string | null;
  error: { name: string; message: string; remedy: string } | null;
  finishedAt: string | null;
}

export const fileViews = async (target: Target): Promise<FileView[]> => {
  const keys = await listKeys(target, target.incomingPrefix);
  const dropped = keys.filter((key) => target.rule.matches(key));
  return pMap(
    dropped,
    async (key): Promise<FileView> => {
      const result = await readResult(target, key);
      return {
        key,
        outcome: result?.outcome ?? 'PENDING',
        certificateId: result && 'certificateId' in result ? (result.certificateId ?? null) : null,
        error: result?.outcome === 'FAILED' ? result.error : null,
        finishedAt: result?.finishedAt ?? null,
      };
    },
    { concurrency: 8 },
  );
};

/**
 * A CA by its id or any unique prefix of it (`list` prints 16 characters); a prefix shared by
 * several CAs is an error that names them.
 */
export const resolveCaId = async (target: Target, id: string): Promise<string> => {
  const wanted = id.trim().toLowerCase();
  if (!/^[0-9a-f]{1,64}$/.test(wanted))
    throw new CliError('CaNotFoundError', `"${id}" is not a certificate id (hexadecimal, as list prints it).`);
  if (wanted.length === 64) return wanted;
  const matches = (await listCaIds(target)).filter((candidate) => candidate.startsWith(wanted));
  if (matches.length === 0) throw new CliError('CaNotFoundError', `No CA certificate id starts with ${wanted}.`);
  if (matches.length > 1) {
    throw new CliError(
      'AmbiguousIdError',
      `${matches.length} CA certificates start with ${wanted}: ${matches.map((match) => match.slice(0, 16)).join(', ')}; give more characters.`,
    );
  }
  return matches[0] as string;
};
