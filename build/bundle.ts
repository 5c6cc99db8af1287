/**
 * Builds the functions' bundles as `serverless package` does (serverless-esbuild with
 * serverless.yml's custom.esbuild options and plugins), for the benchmark and the tests that run
 * the deployed code. The Framework itself is not needed for that, and takes ten times longer.
 */
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { parse } from 'yaml';

const require = createRequire(import.meta.url);

interface EsbuildConfig {
  bundle: boolean;
  minify: boolean;
  treeShaking: boolean;
  platform: NonNullable<BuildOptions['platform']>;
  target: string;
  format: NonNullable<BuildOptions['format']>;
  mainFields: string[];
  banner?: Record<string, string>;
  plugins?: string;
  outputFileExtension?: string;
}

export interface BundleSet {
  /** Function key (or extra entry name) → the bundle's path. */
  files: Record<string, string>;
  /** Function key → its handler's export name. */
  exports: Record<string, string>;
  /** Name → what esbuild put in the bundle (input files and their bytes), when asked for. */
  metafiles?: Record<string, Metafile>;
}

/**
 * Bundles every function serverless.yml declares, plus `extra` entries (name → source path),
 * into `outDir` as `<name>.mjs`. `plugins: false` builds without serverless.yml's esbuild plugins
 * (what the stock SDK costs). `metafile: true` also returns each bundle's metafile (which input
 * files it holds: the benchmark reads the SDK clients a function uses from it).
 */
export const bundleFunctions = async (
  root: string,
  outDir: string,
  {
    extra = {},
    plugins: usePlugins = true,
    metafile = false,
  }: { extra?: Record<string, string>; plugins?: boolean; metafile?: boolean } = {},
): Promise<BundleSet> => {
  const config = parse(readFileSync(join(root, 'serverless.yml'), 'utf8'), { logLevel: 'silent' }) as {
    custom: { esbuild: EsbuildConfig };
    functions: Record<string, { handler: string }>;
  };
  const options = config.custom.esbuild;
  const plugins = usePlugins && options.plugins ? (require(join(root, options.plugins)) as Plugin[]) : [];
  const entries: Record<string, string> = { ...extra };
  const exports: Record<string, string> = {};
  for (const [name, fn] of Object.entries(config.functions)) {
    const dot = fn.handler.lastIndexOf('.');
    entries[name] = join(root, `${fn.handler.slice(0, dot)}.ts`);
    exports[name] = fn.handler.slice(dot + 1);
  }
  mkdirSync(outDir, { recursive: true });
  const files: Record<string, string> = {};
  const metafiles: Record<string, Metafile> = {};
  await Promise.all(
    Object.entries(entries).map(async ([name, entry]) => {
      const outfile = join(outDir, `${name}${options.outputFileExtension ?? '.js'}`);
      const result = await build({
        entryPoints: [entry],
        outfile,
        bundle: options.bundle,
        minify: options.minify,
        treeShaking: options.treeShaking,
        platform: options.platform,
        target: options.target,
        format: options.format,
        mainFields: options.mainFields,
        ...(options.banner ? { banner: options.banner } : {}),
        plugins,
        nodePaths: [join(root, 'node_modules')],
        logLevel: 'silent',
        metafile,
      });
      files[name] = outfile;
      if (result.metafile) metafiles[name] = result.metafile;
    }),
  );
  return { files, exports, ...(metafile ? { metafiles } : {}) };
};
