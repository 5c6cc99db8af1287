/**
 * Pages and their markers. A marker is opaque to the caller but has AWS's shape: ListCACertificates'
 * `marker` is at most 1024 characters of `[A-Za-z0-9+/]+={0,2}` (standard base64, as AWS's API
 * reference gives the pattern); the same encoding serves `nextToken`, which has no pattern.
 */
import { invalid } from './errors.ts';

const MARKER = /^[A-Za-z0-9+/]+={0,2}$/;
const MAX_MARKER_CHARS = 1024;

const encodeMarker = (offset: number): string => Buffer.from(JSON.stringify({ offset })).toString('base64');

const decodeMarker = (marker: string, name: string): number => {
  if (marker.length <= MAX_MARKER_CHARS && MARKER.test(marker)) {
    try {
      const offset = (JSON.parse(Buffer.from(marker, 'base64').toString('utf8')) as { offset?: unknown }).offset;
      if (typeof offset === 'number' && Number.isInteger(offset) && offset >= 0) return offset;
    } catch {
      // Not one of ours: refused below like any other malformed marker.
    }
  }
  throw invalid(`The ${name} is not valid.`);
};

/** One page of `items` after the marker `token`, and the marker of the page after it, if any. */
export const pageOf = <T>(
  items: T[],
  token: string | undefined,
  size: number,
  name = 'marker',
): { page: T[]; next: string | undefined } => {
  const start = token ? decodeMarker(token, name) : 0;
  return {
    page: items.slice(start, start + size),
    next: start + size < items.length ? encodeMarker(start + size) : undefined,
  };
};

/** A page-size parameter: 25 when absent, else an integer from 1 to 250. */
export const pageSizeOf = (value: string | undefined, name: string): number => {
  const size = value === undefined ? 25 : Number(value);
  if (!Number.isInteger(size) || size < 1 || size > 250) throw invalid(`${name} must be 1-250.`);
  return size;
};

/** AWS's listing order for records: by creation date (then by arrival), newest first unless `ascending`. */
export const inCreationOrder =
  (ascending: boolean) =>
  (a: { creationDate: number; sequence: number }, b: { creationDate: number; sequence: number }): number =>
    (a.creationDate - b.creationDate || a.sequence - b.sequence) * (ascending ? 1 : -1);

/**
 * Sorted listings kept until the records change, so paging through N records sorts them once,
 * not once a page (it was O(N² log N) on the stack's main thread). The owner calls `changed()` on
 * every write; a few listings (by query) are kept at a time.
 */
export class ListingCache<T> {
  private readonly listings = new Map<string, T[]>();

  changed(): void {
    this.listings.clear();
  }

  get(query: string, build: () => T[]): T[] {
    let items = this.listings.get(query);
    if (!items) {
      if (this.listings.size >= 16) this.listings.clear();
      items = build();
      this.listings.set(query, items);
    }
    return items;
  }
}
