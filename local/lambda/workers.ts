/**
 * Runs each function in a worker thread of its own, started on its first invocation, as Lambda
 * gives each function its own container: its own environment (its role's credentials, its own
 * `environment:`), module state and SDK clients. The local endpoints tell the functions apart by
 * the access key each one signs with.
 */
import { Worker } from 'node:worker_threads';
import type { FunctionDeclaration, TaskBinding } from '../app.ts';

export interface FunctionIdentity {
  accessKeyId: string;
  secretAccessKey: string;
}

interface Pending {
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
}

/** A failure as the function raised it: its name is what the state machine's Retry and Catch match. */
export class FunctionError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

class FunctionWorker {
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  readonly worker: Worker;

  constructor(binding: TaskBinding, declaration: FunctionDeclaration, env: Record<string, string | undefined>) {
    this.worker = new Worker(new URL('./runtime.mjs', import.meta.url), {
      env,
      workerData: {
        modulePath: binding.modulePath,
        exportName: binding.exportName,
        functionName: declaration.name,
        functionArn: declaration.arn,
        memorySize: binding.memorySize,
      },
    });
    this.worker.on('message', ({ id, output, error }: { id: number; output?: unknown; error?: Error }) => {
      const waiting = this.pending.get(id);
      this.pending.delete(id);
      if (error) waiting?.reject(new FunctionError(error.name, error.message));
      else waiting?.resolve(output);
    });
    // A crashed runtime fails what it was running, as Lambda reports a runtime that exited.
    const fail = (error: Error) => {
      for (const waiting of this.pending.values())
        waiting.reject(new FunctionError('Runtime.ExitError', `The function's runtime exited: ${error.message}`));
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  }

  invoke(event: unknown, timeoutMs: number): Promise<unknown> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, event, timeoutMs });
    });
  }
}

export class FunctionWorkers {
  private readonly workers = new Map<string, FunctionWorker>();

  constructor(
    private readonly declarations: Record<string, FunctionDeclaration>,
    /** The environment every function shares (endpoints, region), as Lambda's runtime sets it. */
    private readonly environment: () => Record<string, string | undefined>,
    private readonly identityOf: (functionKey: string) => FunctionIdentity,
  ) {}

  private workerFor(binding: TaskBinding): FunctionWorker {
    let worker = this.workers.get(binding.functionKey);
    if (!worker) {
      const declaration = this.declarations[binding.functionKey];
      if (!declaration) throw new Error(`serverless.yml declares no function ${binding.functionKey}`);
      const identity = this.identityOf(binding.functionKey);
      const env: Record<string, string | undefined> = {
        ...this.environment(),
        ...declaration.environment,
        AWS_ACCESS_KEY_ID: identity.accessKeyId,
        AWS_SECRET_ACCESS_KEY: identity.secretAccessKey,
        AWS_LAMBDA_FUNCTION_NAME: declaration.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(binding.memorySize),
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      };
      delete env.AWS_PROFILE;
      delete env.AWS_SESSION_TOKEN;
      worker = new FunctionWorker(binding, declaration, env);
      worker.worker.once('exit', () => {
        if (this.workers.get(binding.functionKey) === worker) this.workers.delete(binding.functionKey);
      });
      this.workers.set(binding.functionKey, worker);
    }
    return worker;
  }

  invoke(binding: TaskBinding, event: unknown): Promise<unknown> {
    return this.workerFor(binding).invoke(event, binding.timeoutSeconds * 1000);
  }

  async stop(): Promise<void> {
    const running = [...this.workers.values()];
    this.workers.clear();
    await Promise.all(running.map((entry) => entry.worker.terminate()));
  }
}
