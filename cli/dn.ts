/**
 * A distinguished name as an operator types it (`CN=Factory CA,O=Acme,C=DE`, or openssl's
 * `/CN=Factory CA/O=Acme`), limited to the attributes both a KMS-signed certificate and AWS Private
 * CA's `ASN1Subject` can carry, so that `ca create` means the same subject for either signer.
 */
import { CliError } from './output.ts';

/** Attribute short name → AWS Private CA's ASN1Subject field (and the X.509 attribute it is). */
export const DN_ATTRIBUTES = {
  C: 'Country',
  ST: 'State',
  L: 'Locality',
  O: 'Organization',
  OU: 'OrganizationalUnit',
  CN: 'CommonName',
  serialNumber: 'SerialNumber',
  dnQualifier: 'DistinguishedNameQualifier',
} as const;
export type DnAttribute = keyof typeof DN_ATTRIBUTES;

export interface DnPart {
  type: DnAttribute;
  value: string;
}

const badSubject = (subject: string, why: string): CliError =>
  new CliError(
    'InvalidSubjectError',
    `--subject "${subject}": ${why}. Write it as "CN=Factory CA,O=Acme,C=DE" (attributes ${Object.keys(DN_ATTRIBUTES).join(', ')}; a comma inside a value as \\,).`,
    2,
  );

/** Splits at unescaped separators, unescaping `\,` (or `\/`) in values. */
const split = (text: string, separator: ',' | '/'): string[] => {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i] as string;
    if (char === '\\' && i + 1 < text.length) {
      current += text[i + 1];
      i += 1;
    } else if (char === separator) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts;
};

export const parseSubject = (subject: string): DnPart[] => {
  const text = subject.trim();
  const slashes = text.startsWith('/');
  const pieces = slashes ? split(text.slice(1), '/') : split(text, ',');
  const parts: DnPart[] = [];
  for (const piece of pieces) {
    if (piece.trim() === '') continue;
    const eq = piece.indexOf('=');
    if (eq <= 0) throw badSubject(subject, `"${piece.trim()}" is not TYPE=value`);
    const name = piece.slice(0, eq).trim();
    const value = piece.slice(eq + 1).trim();
    const type = (Object.keys(DN_ATTRIBUTES) as DnAttribute[]).find(
      (known) => known.toLowerCase() === name.toLowerCase(),
    );
    if (!type) throw badSubject(subject, `"${name}" is not an attribute ca create can set`);
    if (value === '') throw badSubject(subject, `${type} is empty`);
    if (parts.some((part) => part.type === type)) throw badSubject(subject, `${type} is given twice`);
    // X.509's upper bounds (RFC 5280 ub-*), which AWS Private CA enforces too.
    const max = type === 'C' ? 2 : type === 'CN' || type === 'O' || type === 'OU' ? 64 : 128;
    if (value.length > max) throw badSubject(subject, `${type} is longer than ${max} characters`);
    if (type === 'C' && !/^[A-Za-z]{2}$/.test(value)) throw badSubject(subject, 'C must be a two-letter country code');
    parts.push({ type, value: type === 'C' ? value.toUpperCase() : value });
  }
  if (!parts.some((part) => part.type === 'CN')) throw badSubject(subject, 'it has no CN');
  return parts;
};

export const commonName = (parts: DnPart[]): string => parts.find((part) => part.type === 'CN')?.value ?? '';

/** As RFC 4514 prints it (the order given), for messages and the builder. */
export const formatSubject = (parts: DnPart[]): string =>
  parts.map((part) => `${part.type}=${part.value.replace(/([,+"\\<>;])/g, '\\$1')}`).join(', ');
