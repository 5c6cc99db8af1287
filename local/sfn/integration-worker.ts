/**
 * Runs a state machine role's SDK integrations in a worker thread (integration-runtime.mjs),
 * started on the first call: on AWS these calls cost the account no thread at all, and on the
 * embedded stack's main thread they competed with the local S3, IoT and engine (docs/adr/0026).
 */
import { Worker } from 'node:worker_threads';
import { type IntegrationCredentials, IntegrationError } from './integrations.ts';

interface Pending {
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
}

export class IntegrationWorker {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private next = 0;

  constructor(
    private readonly credentials: IntegrationCredentials | undefined,
    private readonly env: () => Record<string, string | undefined>,
  ) {}

  private start(): Worker {
    const worker = new Worker(new URL('./integration-runtime.mjs', import.meta.url), {
      env: this.env(),
      workerData: { credentials: this.credentials },
    });
    worker.on('message', ({ id, output, error }: { id: number; output?: unknown; error?: Error }) => {
      const waiting = this.pending.get(id);
      this.pending.delete(id);
      if (error) waiting?.reject(new IntegrationError(error.name, error.message));
      else waiting?.resolve(output);
    });
    // A worker that died fails what it was running as a service that never answered.
    const fail = (reason: string) => {
      for (const waiting of this.pending.values())
        waiting.reject(new IntegrationError('States.Runtime', `The local SDK integrations stopped: ${reason}`));
      this.pending.clear();
      if (this.worker === worker) this.worker = undefined;
    };
    worker.on('error', (error) => fail(error.message));
    worker.on('exit', (code) => fail(`exit code ${code}`));
    return worker;
  }

  call(
    service: string,
    action: string,
    parameters: unknown,
    execution?: { executionArn: string; stateMachineArn: string },
  ): Promise<unknown> {
    this.worker ??= this.start();
    const id = this.next++;
    const worker = this.worker;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, service, action, parameters, execution });
    });
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }
}
