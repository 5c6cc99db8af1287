/**
 * The emulator's writes to disk, and which request each belongs to. The state in memory is the
 * truth and the disk follows it write by write (ADR 0013); a request is answered only once its own
 * writes have landed. Operations may await (RegisterCACertificate verifies signatures with
 * WebCrypto), so "the writes started since the operation began" would also catch other requests'
 * writes and let them be stolen: each request collects its own through AsyncLocalStorage instead.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export class Writes {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly request = new AsyncLocalStorage<Array<Promise<void>>>();

  track(write: Promise<void>): void {
    this.request.getStore()?.push(write);
    const settled = write.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
  }

  /** Runs `operation`, then waits for the writes it started; rejects if one of them failed. */
  async durably<T>(operation: () => T | Promise<T>): Promise<T> {
    const started: Array<Promise<void>> = [];
    const result = await this.request.run(started, operation);
    await Promise.all(started);
    return result;
  }

  /** Resolves when every write started so far has settled (before a restart or a stop). */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
