/**
 * local/ is the referee of functions/: it may not import the code it judges. Every import specifier
 * written in local/ (static, re-export, dynamic `import('…')` and `require('…')` with a literal) is
 * resolved and must not land in functions/. local/engine.ts binds handlers by paths it computes at
 * run time from serverless.yml, as Lambda does: that is not a literal and is allowed. Biome's
 * noRestrictedImports (biome.json, `local/**`) says the same at lint time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const FUNCTIONS = join(ROOT, 'functions');

/** Every module specifier written as a literal in `source`. */
const specifiers = (source: string): string[] =>
  ts.preProcessFile(source, true, true).importedFiles.map((file) => file.fileName);

/** The specifiers of `source` (a file at `path`) that resolve into functions/. */
const intoFunctions = (path: string, source: string): string[] =>
  specifiers(source).filter((specifier) => {
    if (!specifier.startsWith('.') && !specifier.startsWith('/')) return false;
    const target = resolve(dirname(path), specifier);
    return target === FUNCTIONS || target.startsWith(FUNCTIONS + sep);
  });

const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|mts|cts|js|mjs|cjs)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));

describe('local/ is independent of functions/', () => {
  it('imports nothing from functions/, statically or dynamically', () => {
    const files = sources(join(ROOT, 'local'));
    expect(files.length).toBeGreaterThan(10);
    const violations = files.flatMap((file) =>
      intoFunctions(file, readFileSync(file, 'utf8')).map((specifier) => `${relative(ROOT, file)} → ${specifier}`),
    );
    expect(violations).toEqual([]);
  });

  it('catches planted imports of every kind, and lets a computed path through', () => {
    const file = join(ROOT, 'local', 'iot', 'planted.ts');
    const planted = [
      "import { parsePemBlocks } from '../../functions/core/pem.ts';",
      "import type { PemBlock } from '../../functions/core/pem.ts';",
      "export { isPipelineError } from '../../functions/core/errors.ts';",
      "import '../../functions';",
      "const certificate = await import('../../functions/core/certificate.ts');",
      'const errors = await import(`../../functions/core/errors.ts`);',
      "const pem = require('../../functions/core/pem.ts');",
    ];
    for (const line of planted) expect(intoFunctions(file, line), line).toHaveLength(1);
    const allowed = [
      "import { X509Certificate } from '@peculiar/x509';",
      "import { writeFileAtomic } from './store.ts';",
      "import { functionsOf } from '../functions-like.ts';",
      // local/engine.ts's runtime binding: the handler's path comes from serverless.yml.
      'const handler = await import(pathToFileURL(join(root, `${name}.ts`)).href);',
    ];
    for (const line of allowed) expect(intoFunctions(file, line), line).toEqual([]);
  });
});
