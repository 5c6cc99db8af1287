// esbuild plugins for the deployed bundles: serverless.yml's custom.esbuild.plugins names this file,
// and the benchmark and the bundle tests build with it too. Both plugins only make the bundled SDK
// smaller; neither changes what it does.
const { readFile } = require('node:fs/promises');
const { join } = require('node:path');

/** The SDK's default credential chain, narrowed to what Lambda provides: see lambda-credentials.ts. */
const lambdaCredentials = {
  name: 'lambda-credentials',
  setup(build) {
    build.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, () => ({
      path: join(__dirname, 'lambda-credentials.ts'),
    }));
  },
};

/**
 * Each SDK client ships one generated schemas file describing every operation of its service
 * (IoT: 236 KB of source). The schemas are plain arrays, which esbuild drops when unused, except
 * that their HTTP traits use computed keys (`{ [_h]: ["PUT", "/cacertificate", 200] }`) whose key
 * is a module-level string constant: esbuild cannot prove such a key free of side effects, so it
 * kept all of them. Writing each such key as the string it names (`{ "http": [...] }`) is the same
 * object, and lets tree shaking keep only the operations a function calls.
 */
const treeShakeableSchemas = {
  name: 'tree-shakeable-sdk-schemas',
  setup(build) {
    build.onLoad({ filter: /[\\/]@aws-sdk[\\/].+[\\/]schemas[\\/]schemas_\d+\.js$/ }, async ({ path }) => {
      const source = await readFile(path, 'utf8');
      const constants = new Map();
      for (const match of source.matchAll(/^const (_\w+) = ("(?:[^"\\\n]|\\.)*");$/gm))
        constants.set(match[1], match[2]);
      const contents = source.replace(/\[(_\w+)\]:/g, (whole, name) => constants.get(name)?.concat(':') ?? whole);
      return { contents, loader: 'js' };
    });
  },
};

module.exports = [lambdaCredentials, treeShakeableSchemas];
