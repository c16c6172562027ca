// What a test has received so far (events, MQTT messages), and a wait for the first that matches.

export class Arrivals<T> {
  readonly items: T[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(private readonly what: string, private readonly shownOnTimeout = 20) {}

  push(item: T): void {
    this.items.push(item);
    for (const w of [...this.waiters]) w();
  }

  /** The first item (already received or still to come) matching `pred`, or a timeout error. */
  waitFor(pred: (item: T) => boolean, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.items.find(pred);
        if (found === undefined) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no matching ${this.what} within ${timeoutMs} ms; last: ${JSON.stringify(this.items.slice(-this.shownOnTimeout))}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
}
