/**
 * Runs tasks one at a time, in order. The watcher's state (snapshot, folder handles, pending
 * renames) is only touched from here, so events come out in the order the server sent them even
 * when handling one needs a round trip.
 */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;

  constructor(private readonly onError: (err: Error) => void) {}

  /** Queue a task; its error goes to `onError`. */
  push(task: () => Promise<void> | void): void {
    this.pending++;
    this.tail = this.tail.then(task).catch((err: unknown) => this.onError(err instanceof Error ? err : new Error(String(err)))).finally(() => {
      this.pending--;
    });
  }

  /** Queue a task and give its outcome to the caller instead. */
  run<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.push(() => task().then(resolve, reject));
    });
  }

  get length(): number {
    return this.pending;
  }

  /** Resolves when every task queued so far has finished. */
  idle(): Promise<void> {
    return this.tail;
  }
}
