/**
 * Cold start per function against its own floor: the init of the function's bundle ÷ the init of
 * a bundle built the same way (build/bundle.ts: serverless.yml's esbuild options and plugins) that
 * only imports and constructs the SDK clients that function's bundle holds. The ratio is what the
 * project's code (handler, middy, Powertools, schemas) adds to the clients a function cannot do
 * without (docs/adr/0021-cold-start-against-each-functions-floor.md). Init is timed as CPU time
 * (the process's, all threads) and as wall time; the ratio is taken on CPU time, which a loaded
 * machine does not inflate, and which is what init's wall time is on Lambda's fraction of a core.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Metafile } from 'esbuild';
import { bundleFunctions } from '../build/bundle.ts';
import { type Figure, median, round } from './figures.ts';

const run = promisify(execFile);

/** An SDK client a bundle holds: its class and its package. */
export interface SdkClient {
  className: string;
  packageName: string;
}

/** `…/@aws-sdk/client-iot/dist-es/IoTClient.js`: the module that defines a client's class. */
const CLIENT_MODULE = /(@aws-sdk\/client-[a-z0-9-]+)\/dist-(?:es|cjs)\/(\w+Client)\.js$/;

/**
 * The SDK clients whose class esbuild kept in a bundle: what the function's imports construct
 * (functions/aws/*.ts build them), after tree-shaking, so a client only named in a type or
 * imported and never built does not count.
 */
export const clientsIn = (metafile: Metafile): SdkClient[] => {
  const clients = new Map<string, SdkClient>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const match = CLIENT_MODULE.exec(path);
      if (match && input.bytesInOutput > 0)
        clients.set(match[2] as string, { className: match[2] as string, packageName: match[1] as string });
    }
  }
  return [...clients.values()].sort((a, b) => a.className.localeCompare(b.className));
};

/** The floor's entry: import and construct these clients at module scope, as a function does, and nothing else. */
export const floorSource = (clients: SdkClient[]): string =>
  [
    ...clients.map((client) => `import { ${client.className} } from '${client.packageName}';`),
    `const clients = [${clients.map((client) => `new ${client.className}({})`).join(', ')}];`,
    'export const handler = async () => clients.map((client) => client.config.apiVersion);',
    '',
  ].join('\n');

const floorName = (clients: SdkClient[]): string =>
  `floor-${clients.map((client) => client.className.replace(/Client$/, '').toLowerCase()).join('-') || 'none'}`;

/**
 * The stack's floor: the same clients plus what every handler of this stack is built on before
 * any code of its own (Powertools Logger, middy with the Logger's middleware, zod/mini with its
 * English messages), nothing parsed. Not the target's denominator: it shows how much of a
 * function's ratio the chosen libraries account for, and how much is the function's own.
 */
export const stackFloorSource = (clients: SdkClient[]): string =>
  [
    "import { Logger } from '@aws-lambda-powertools/logger';",
    "import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';",
    "import middy from '@middy/core';",
    "import * as z from 'zod/mini';",
    "import en from 'zod/v4/locales/en.js';",
    ...clients.map((client) => `import { ${client.className} } from '${client.packageName}';`),
    'z.config(en());',
    "const logger = new Logger({ serviceName: 'floor' });",
    `const clients = [${clients.map((client) => `new ${client.className}({})`).join(', ')}];`,
    'export const handler = middy()',
    '  .use(injectLambdaContext(logger))',
    '  .handler(async () => clients.map((client) => client.config.apiVersion));',
    '',
  ].join('\n');

export interface ColdRow {
  function: string;
  clients: string[];
  floor: string;
  kb: number;
  stockKb: number;
  floorKb: number;
  /** Medians of the init's CPU time, ms. */
  initCpuMs: number;
  floorInitCpuMs: number;
  /** Medians of the init's wall time, ms. */
  initMs: number;
  floorInitMs: number;
  /** Median of the pairs' CPU-time ratios: the figure. */
  ratio: number;
  /** Median of the pairs' wall-time ratios, for comparison. */
  wallRatio: number;
  met: boolean;
  /** The stack's floor (stackFloorSource) ÷ the floor, and the function ÷ the stack's floor: medians of CPU-time ratios. */
  stackFloorRatio: number;
  overStackRatio: number;
}

export const COLD_TARGET = 1.15;

export const coldStart = async (
  root: string,
  { rounds, log }: { rounds: number; log: (line: string) => void },
): Promise<{ figures: Figure[]; rows: ColdRow[] }> => {
  const out = mkdtempSync(join(tmpdir(), 'iot-ca-bench-bundles-'));
  try {
    // First the functions alone, to read which clients each one holds; then the floors they call
    // for, built by the same bundleFunctions (same options and plugins) as `extra` entries.
    const probe = await bundleFunctions(root, join(out, 'probe'), { metafile: true });
    const functionNames = Object.keys(probe.exports);
    const clientsOf = new Map<string, SdkClient[]>();
    const floorOf = new Map<string, string>();
    const extra: Record<string, string> = {};
    for (const name of functionNames) {
      const clients = clientsIn(probe.metafiles?.[name] as Metafile);
      const floor = floorName(clients);
      clientsOf.set(name, clients);
      floorOf.set(name, floor);
      if (!extra[floor]) {
        const entry = join(out, `${floor}.ts`);
        writeFileSync(entry, floorSource(clients));
        extra[floor] = entry;
        const stackEntry = join(out, `stack-${floor}.ts`);
        writeFileSync(stackEntry, stackFloorSource(clients));
        extra[`stack-${floor}`] = stackEntry;
      }
    }
    const { files } = await bundleFunctions(root, join(out, 'ours'), { extra });
    const { files: stock } = await bundleFunctions(root, join(out, 'stock'), { plugins: false });
    const env = {
      PATH: process.env.PATH,
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      DEFAULT_TEMPLATE_NAME: 'bench-jitp',
      REGISTER_CA_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:bench',
      POWERTOOLS_METRICS_DISABLED: 'true',
    };
    /** One import of the bundle in a fresh Node process: [wall ms, CPU ms]. */
    const initOnce = async (file: string): Promise<[number, number]> => {
      const script = `const c=process.cpuUsage();const t=performance.now();await import(${JSON.stringify(`file://${file}`)});const w=performance.now()-t;const u=process.cpuUsage(c);process.stdout.write(JSON.stringify([w,(u.user+u.system)/1000]));`;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env });
      return JSON.parse(stdout) as [number, number];
    };
    log(
      `   floors: ${Object.keys(extra).join(', ')}; ${rounds} rounds of ${functionNames.length} functions, each in a fresh process beside its floor and the stack's floor`,
    );
    // One pass to warm the file cache, not counted.
    for (const file of Object.values(files)) await initOnce(file);
    const series = () => new Map<string, number[]>(functionNames.map((name) => [name, []]));
    const [samples, floorSamples, cpuSamples, floorCpuSamples, ratios, wallRatios, stackRatios, overStackRatios] = [
      series(),
      series(),
      series(),
      series(),
      series(),
      series(),
      series(),
      series(),
    ];
    // Each function is timed next to its floor (and the stack's floor) and the ratio taken within
    // the round: machine noise drifts over seconds, so adjacent runs cancel most of it. The order
    // rotates, so no side always runs first or last.
    for (let i = 0; i < rounds; i++) {
      for (const name of functionNames) {
        const floor = floorOf.get(name) as string;
        const order = [files[floor], files[name], files[`stack-${floor}`]] as string[];
        const timed = new Map<string, [number, number]>();
        for (let k = 0; k < order.length; k++) {
          const file = order[(i + k) % order.length] as string;
          timed.set(file, await initOnce(file));
        }
        const [floorInit, init, stackInit] = order.map((file) => timed.get(file) as [number, number]) as [
          [number, number],
          [number, number],
          [number, number],
        ];
        samples.get(name)?.push(init[0]);
        floorSamples.get(name)?.push(floorInit[0]);
        cpuSamples.get(name)?.push(init[1]);
        floorCpuSamples.get(name)?.push(floorInit[1]);
        wallRatios.get(name)?.push(init[0] / floorInit[0]);
        ratios.get(name)?.push(init[1] / floorInit[1]);
        stackRatios.get(name)?.push(stackInit[1] / floorInit[1]);
        overStackRatios.get(name)?.push(init[1] / stackInit[1]);
      }
    }
    const kb = (file: string | undefined) => round(statSync(file as string).size / 1024, 1);
    const rows: ColdRow[] = functionNames.map((name) => {
      const ratio = round(median(ratios.get(name) ?? []));
      return {
        function: name,
        clients: (clientsOf.get(name) ?? []).map((client) => client.className),
        floor: floorOf.get(name) as string,
        kb: kb(files[name]),
        stockKb: kb(stock[name]),
        floorKb: kb(files[floorOf.get(name) as string]),
        initCpuMs: round(median(cpuSamples.get(name) ?? []), 1),
        floorInitCpuMs: round(median(floorCpuSamples.get(name) ?? []), 1),
        initMs: round(median(samples.get(name) ?? []), 1),
        floorInitMs: round(median(floorSamples.get(name) ?? []), 1),
        ratio,
        wallRatio: round(median(wallRatios.get(name) ?? [])),
        met: ratio <= COLD_TARGET,
        stackFloorRatio: round(median(stackRatios.get(name) ?? [])),
        overStackRatio: round(median(overStackRatios.get(name) ?? [])),
      };
    });
    for (const row of rows)
      log(
        `   ${row.function}: ${row.ratio}× its floor (CPU ${row.initCpuMs} ms vs ${row.floorInitCpuMs} ms; wall ${row.wallRatio}×, ${row.initMs} vs ${row.floorInitMs} ms; ${row.clients.join('+')}); the stack's floor ${row.stackFloorRatio}×, the function ÷ it ${row.overStackRatio}×`,
      );
    const span = (values: number[]) => `${Math.min(...values)}–${Math.max(...values)}×`;
    const worst = rows.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    const missed = rows.filter((row) => !row.met);
    return {
      rows,
      figures: [
        {
          name: 'Cold start: each function ÷ its floor (its SDK clients only)',
          value: `${missed.length === 0 ? 'all' : `${rows.length - missed.length} of ${rows.length}`} within; slowest ${worst.ratio}× (${worst.function}, ${worst.initCpuMs} ms of CPU vs ${worst.floorInitCpuMs} ms); ${rows.map((row) => `${row.function} ${row.ratio}×`).join(', ')}. The stack's floor (the clients + Powertools Logger, middy, zod) alone: ${span(rows.map((row) => row.stackFloorRatio))}; each function ÷ the stack's floor: ${span(rows.map((row) => row.overStackRatio))}`,
          target: `≤ ${COLD_TARGET}× for every function`,
          met: missed.length === 0,
          detail: {
            rows,
            rounds,
            pairing:
              "each run ÷ its floor's run beside it (the function, its floor and the stack's floor in rotating order); median of the CPU-time ratios",
            floors: Object.fromEntries(Object.keys(extra).map((floor) => [floor, kb(files[floor])])),
          },
        },
      ],
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
};
