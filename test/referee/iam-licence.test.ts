/**
 * iam-simulate and the packages it brings (@cloud-copilot/iam-policy, iam-utils) are AGPL-3.0; this
 * project is Apache-2.0. They may referee in tests, never ship: nothing under local/, functions/,
 * cli/ or bin/ imports them, or any other (A)GPL package, and iam-simulate stays a devDependency.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../local/app.ts';

const SHIPPED = ['local', 'functions', 'cli', 'bin'];
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs)$/;

const filesUnder = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : filesUnder(path);
    return SOURCE.test(name) ? [path] : [];
  });

/** Every module specifier a source file names: static and dynamic imports, re-exports, require. */
const specifiers = (source: string): string[] => {
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"`]([^'"`]+)['"`]\s*[,)]/g,
    /\brequire(?:\.resolve)?\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
  ];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((match) => match[1] as string));
};

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`; relative paths and Node's modules → undefined. */
const packageOf = (specifier: string): string | undefined => {
  if (specifier.startsWith('.') || specifier.startsWith('/') || isBuiltin(specifier)) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
};

const licenceOf = (name: string): string => {
  try {
    const manifest = JSON.parse(readFileSync(join(PROJECT_ROOT, 'node_modules', name, 'package.json'), 'utf8'));
    const licence = manifest.license ?? manifest.licenses;
    return typeof licence === 'string' ? licence : JSON.stringify(licence ?? 'UNKNOWN');
  } catch {
    return 'not installed'; // a type-only import (`aws-lambda` is @types/aws-lambda): nothing ships
  }
};

const files = SHIPPED.flatMap((dir) => filesUnder(join(PROJECT_ROOT, dir)));
const imports = files.flatMap((file) =>
  specifiers(readFileSync(file, 'utf8')).map((specifier) => ({
    file: relative(PROJECT_ROOT, file),
    specifier,
    name: packageOf(specifier),
  })),
);

describe('licences: AGPL code referees in tests and never ships', () => {
  it('reads the imports of what ships', () => {
    expect(files.map((file) => relative(PROJECT_ROOT, file))).toEqual(
      expect.arrayContaining(['local/iam/policy.ts', 'functions/aws/iot.ts', 'cli/main.ts', 'bin/iot-ca.mjs']),
    );
    expect(imports.map((entry) => entry.name)).toEqual(expect.arrayContaining(['@aws-sdk/client-iot', 'yaml']));
  });

  it('nothing under local/, functions/, cli/ or bin/ imports @cloud-copilot/iam-simulate', () => {
    expect(imports.filter((entry) => entry.name?.startsWith('@cloud-copilot/'))).toEqual([]);
  });

  it('nothing that ships imports an (A)GPL package', () => {
    const copyleft = imports
      .filter((entry) => entry.name !== undefined && /\bA?GPL/i.test(licenceOf(entry.name)))
      .map((entry) => `${entry.file}: ${entry.specifier} (${licenceOf(entry.name as string)})`);
    expect(copyleft).toEqual([]);
  });

  it('iam-simulate is a devDependency only', () => {
    const manifest = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8'));
    expect(manifest.dependencies).not.toHaveProperty('@cloud-copilot/iam-simulate');
    expect(manifest.devDependencies).toHaveProperty('@cloud-copilot/iam-simulate');
    expect(licenceOf('@cloud-copilot/iam-simulate')).toMatch(/AGPL/);
  });

  it('the scan finds an import of iam-simulate written any way', () => {
    const planted = [
      "import { runSimulation } from '@cloud-copilot/iam-simulate';",
      'export { runSimulation } from "@cloud-copilot/iam-simulate";',
      "import type {\n  Simulation,\n} from '@cloud-copilot/iam-simulate/dist/esm/index.js';",
      "const { runSimulation } = await import('@cloud-copilot/iam-simulate');",
      "const sim = require('@cloud-copilot/iam-simulate');",
      "import '@cloud-copilot/iam-simulate';",
    ];
    for (const source of planted)
      expect(specifiers(source).map(packageOf), source).toEqual(['@cloud-copilot/iam-simulate']);
    expect(/\bA?GPL/i.test(licenceOf('@cloud-copilot/iam-policy'))).toBe(true);
  });
});
