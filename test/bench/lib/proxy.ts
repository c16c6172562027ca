// A loopback TCP proxy that counts the bytes each way and groups traffic into bursts (one burst
// = traffic separated from the next by at least `gapMs` of silence), to measure the cost of one
// polling cycle.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface Burst {
  start: number;
  end: number;
  up: number;
  down: number;
}

export class CountingProxy {
  port = 0;
  up = 0;
  down = 0;
  readonly bursts: Burst[] = [];
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private current: Burst | null = null;

  constructor(
    private readonly targetPort: number,
    private readonly gapMs = 300,
  ) {}

  async start(): Promise<number> {
    this.server = createServer((client) => {
      const upstream = connect({ host: '127.0.0.1', port: this.targetPort });
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      this.sockets.add(client);
      this.sockets.add(upstream);
      client.on('data', (d: Buffer) => {
        this.count('up', d.length);
        upstream.write(d);
      });
      upstream.on('data', (d: Buffer) => {
        this.count('down', d.length);
        client.write(d);
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('close', end);
      upstream.on('close', end);
      client.on('error', end);
      upstream.on('error', end);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    return this.port;
  }

  private count(dir: 'up' | 'down', n: number): void {
    const t = Date.now();
    this[dir] += n;
    if (!this.current || t - this.current.end > this.gapMs) {
      this.current = { start: t, end: t, up: 0, down: 0 };
      this.bursts.push(this.current);
    }
    this.current.end = t;
    this.current[dir] += n;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
