/**
 * Tags on CAs and provisioning templates (AWS-IOT-RULES.md "Tags"): at most 50 per resource
 * (more is LimitExceededException, 410, as TagResource's model lists it), keys 1–128 characters,
 * values at most 256, keys starting `aws:` reserved.
 */
import { invalid, limitExceeded } from './errors.ts';
import { pageOf } from './paging.ts';

export const MAX_TAGS = 50;

export type Tags = Record<string, string>;
export type TagList = Array<{ Key?: string; Value?: string }>;

/** A resource's tags and how to store a new set: what TagResource and friends work on. */
export interface Taggable {
  tags: Tags;
  save: (tags: Tags) => void;
}

export const tagsOf = (list: TagList | undefined): Tags =>
  Object.fromEntries((list ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));

export const validateTags = (tags: Tags): void => {
  for (const [key, value] of Object.entries(tags)) {
    if (key.length < 1 || key.length > 128) throw invalid(`Tag key length must be 1-128: ${key}`);
    if (value.length > 256) throw invalid(`Tag value length must be at most 256 for key ${key}`);
    if (key.toLowerCase().startsWith('aws:')) throw invalid('Tag keys starting with aws: are reserved.');
  }
  const count = Object.keys(tags).length;
  if (count > MAX_TAGS) throw limitExceeded(`A resource can have at most ${MAX_TAGS} tags; this would make ${count}.`);
};

export const tagResource = (resource: Taggable, list: TagList | undefined): Record<string, never> => {
  if (!list?.length) throw invalid('tags must not be empty.');
  const tags = { ...resource.tags, ...tagsOf(list) };
  validateTags(tags);
  resource.save(tags);
  return {};
};

export const untagResource = (resource: Taggable, keys: string[] | undefined): Record<string, never> => {
  const tags = { ...resource.tags };
  for (const key of keys ?? []) delete tags[key];
  resource.save(tags);
  return {};
};

export const listTags = (resource: Taggable, nextToken: string | undefined) => {
  const { page, next } = pageOf(Object.entries(resource.tags), nextToken, 25, 'nextToken');
  return { tags: page.map(([Key, Value]) => ({ Key, Value })), ...(next ? { nextToken: next } : {}) };
};
