/**
 * The local EventBridge's event patterns against the examples of AWS's "Amazon EventBridge event
 * patterns" and "Comparison operators for use in event patterns" pages.
 */
import { describe, expect, it } from 'vitest';
import { keyMatcher } from '../../local/app.ts';
import { compilePattern, InvalidEventPatternError, matchesPattern } from '../../local/events/patterns.ts';

/** The docs' sample EC2 event. */
const ec2 = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: { 'instance-id': 'i-1234567890abcdef0', state: 'terminated', 'c-count': 5, 'd-count': 3, x: null, y: '' },
};

describe('event patterns', () => {
  it('matches exact values, AND across fields and OR within a field', () => {
    expect(
      matchesPattern({ source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'] }, ec2),
    ).toBe(true);
    expect(matchesPattern({ source: ['aws.ec2'], detail: { state: ['running', 'terminated'] } }, ec2)).toBe(true);
    expect(matchesPattern({ source: ['aws.ec2'], detail: { state: ['running'] } }, ec2)).toBe(false);
    expect(matchesPattern({ source: ['aws.s3'], detail: { state: ['terminated'] } }, ec2)).toBe(false);
  });

  it('matches null and the empty string as values, and numbers as numbers', () => {
    expect(matchesPattern({ detail: { x: [null] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { y: [''] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { y: [null] } }, ec2)).toBe(false);
    expect(matchesPattern({ detail: { 'c-count': [5] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { 'c-count': [5.0] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { 'c-count': ['5'] } }, ec2)).toBe(false);
  });

  it('matches any element of an array in the event', () => {
    expect(
      matchesPattern({ resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0', 'other'] }, ec2),
    ).toBe(true);
    expect(matchesPattern({ resources: [{ prefix: 'arn:aws:ec2:' }] }, ec2)).toBe(true);
    expect(matchesPattern({ resources: ['arn:aws:s3:::bucket'] }, ec2)).toBe(false);
    // Arrays of objects: an element must match the nested pattern.
    const event = {
      detail: {
        items: [
          { kind: 'a', n: 1 },
          { kind: 'b', n: 2 },
        ],
      },
    };
    expect(matchesPattern({ detail: { items: { kind: ['b'], n: [2] } } }, event)).toBe(true);
    expect(matchesPattern({ detail: { items: { kind: ['b'], n: [1] } } }, event)).toBe(false);
  });

  it('prefix and suffix, with and without equals-ignore-case', () => {
    expect(matchesPattern({ region: [{ prefix: 'us-' }] }, ec2)).toBe(true);
    expect(matchesPattern({ region: [{ prefix: 'eu-' }] }, ec2)).toBe(false);
    expect(matchesPattern({ source: [{ prefix: { 'equals-ignore-case': 'AWS.E' } }] }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { 'instance-id': [{ suffix: 'def0' }] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { 'instance-id': [{ suffix: 'DEF0' }] } }, ec2)).toBe(false);
    expect(matchesPattern({ detail: { 'instance-id': [{ suffix: { 'equals-ignore-case': 'DEF0' } }] } }, ec2)).toBe(
      true,
    );
    // Only strings: a number has no prefix.
    expect(matchesPattern({ detail: { 'c-count': [{ prefix: '5' }] } }, ec2)).toBe(false);
  });

  it('equals-ignore-case', () => {
    expect(
      matchesPattern({ 'detail-type': [{ 'equals-ignore-case': 'ec2 instance state-change notification' }] }, ec2),
    ).toBe(true);
    expect(matchesPattern({ 'detail-type': [{ 'equals-ignore-case': 'ec2 instance' }] }, ec2)).toBe(false);
  });

  it('wildcard, with `*` anywhere and `\\*` as a literal star', () => {
    const event = { detail: { eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:MyQueue', file: 'dir/*.png' } };
    expect(matchesPattern({ detail: { eventSourceARN: [{ wildcard: 'arn:aws:sqs:*:*:MyQueue' }] } }, event)).toBe(true);
    expect(matchesPattern({ detail: { eventSourceARN: [{ wildcard: 'arn:aws:sns:*' }] } }, event)).toBe(false);
    expect(matchesPattern({ detail: { file: [{ wildcard: 'dir/\\*.png' }] } }, event)).toBe(true);
    expect(matchesPattern({ detail: { file: [{ wildcard: 'dir/\\*.jpg' }] } }, event)).toBe(false);
    expect(matchesPattern({ detail: { file: [{ wildcard: 'dir/a*.png' }] } }, { detail: { file: 'dir/*.png' } })).toBe(
      false,
    );
    expect(() => compilePattern({ detail: { file: [{ wildcard: 'a**b' }] } })).toThrow(InvalidEventPatternError);
  });

  it('anything-but: values, lists, prefix, suffix, equals-ignore-case and wildcard; never an absent field', () => {
    expect(matchesPattern({ detail: { state: [{ 'anything-but': 'initializing' }] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { state: [{ 'anything-but': 'terminated' }] } }, ec2)).toBe(false);
    expect(matchesPattern({ detail: { state: [{ 'anything-but': ['stopped', 'terminated'] }] } }, ec2)).toBe(false);
    expect(matchesPattern({ detail: { 'c-count': [{ 'anything-but': [100, 200, 300] }] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { 'c-count': [{ 'anything-but': [5] }] } }, ec2)).toBe(false);
    expect(matchesPattern({ region: [{ 'anything-but': { prefix: 'us-' } }] }, ec2)).toBe(false);
    expect(matchesPattern({ region: [{ 'anything-but': { prefix: 'eu-' } }] }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { 'instance-id': [{ 'anything-but': { suffix: 'def0' } }] } }, ec2)).toBe(false);
    expect(
      matchesPattern({ detail: { state: [{ 'anything-but': { 'equals-ignore-case': 'TERMINATED' } }] } }, ec2),
    ).toBe(false);
    expect(matchesPattern({ detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['A', 'B'] } }] } }, ec2)).toBe(
      true,
    );
    expect(matchesPattern({ detail: { state: [{ 'anything-but': { wildcard: 'term*' } }] } }, ec2)).toBe(false);
    expect(matchesPattern({ detail: { missing: [{ 'anything-but': 'x' }] } }, ec2)).toBe(false);
  });

  it('numeric ranges, on numbers only', () => {
    expect(matchesPattern({ detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { 'd-count': [{ numeric: ['<', 10] }] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { 'c-count': [{ numeric: ['>', 5] }] } }, ec2)).toBe(false);
    expect(matchesPattern({ detail: { 'c-count': [{ numeric: ['=', 5] }] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { state: [{ numeric: ['>', 0] }] } }, ec2)).toBe(false);
    expect(() => compilePattern({ detail: { n: [{ numeric: ['>', '0'] }] } })).toThrow(InvalidEventPatternError);
  });

  it('exists: true on present leaves, false on absent fields', () => {
    expect(matchesPattern({ detail: { state: [{ exists: true }] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { 'no-such': [{ exists: true }] } }, ec2)).toBe(false);
    expect(matchesPattern({ detail: { 'no-such': [{ exists: false }] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { state: [{ exists: false }] } }, ec2)).toBe(false);
    // Leaves only: an object is not a leaf.
    expect(matchesPattern({ detail: [{ exists: true }] }, ec2)).toBe(false);
    // A null value is present.
    expect(matchesPattern({ detail: { x: [{ exists: true }] } }, ec2)).toBe(true);
  });

  it('$or between sub-patterns, nested anywhere', () => {
    const pattern = {
      source: ['aws.ec2'],
      $or: [{ detail: { 'c-count': [{ numeric: ['>', 10] }] } }, { detail: { 'd-count': [{ numeric: ['<', 5] }] } }],
    };
    expect(matchesPattern(pattern, ec2)).toBe(true);
    expect(matchesPattern({ ...pattern, source: ['aws.s3'] }, ec2)).toBe(false);
    expect(
      matchesPattern({ detail: { $or: [{ state: ['running'] }, { 'instance-id': [{ prefix: 'i-1234' }] }] } }, ec2),
    ).toBe(true);
    expect(matchesPattern({ detail: { $or: [{ state: ['running'] }, { state: ['stopped'] }] } }, ec2)).toBe(false);
  });

  it('refuses what EventBridge refuses, and cidr rather than match it wrongly', () => {
    expect(() => compilePattern({ source: 'aws.ec2' })).toThrow(/must be an object or an array/);
    expect(() => compilePattern('{not json')).toThrow(InvalidEventPatternError);
    expect(() => compilePattern({ detail: { ip: [{ cidr: '10.0.0.0/24' }] } })).toThrow(/cidr/);
    expect(() => compilePattern({ detail: { x: [{ unknown: 1 }] } })).toThrow(/Unrecognized match type/);
    expect(() => compilePattern({ $or: [{ a: ['1'] }] })).toThrow(/\$or/);
    expect(new InvalidEventPatternError('x').name).toBe('InvalidEventPatternException');
  });

  it("matches the template's upload rule keys as before (keyMatcher)", () => {
    const matcher = keyMatcher(
      [{ wildcard: '${param:incomingPrefix}*.pem' }, { wildcard: '${param:incomingPrefix}*.PEM' }, 'exact.crt'],
      (text) => text.replace('${param:incomingPrefix}', 'incoming/'),
    );
    expect(matcher.patterns).toEqual(['incoming/*.pem', 'incoming/*.PEM', 'exact.crt']);
    expect(matcher.matches('incoming/a/b.pem')).toBe(true);
    expect(matcher.matches('incoming/a.PEM')).toBe(true);
    expect(matcher.matches('incoming/a.Pem')).toBe(false);
    expect(matcher.matches('other/a.pem')).toBe(false);
    expect(matcher.matches('exact.crt')).toBe(true);
  });
});
