// The fault proxy itself, against a plain TCP peer (no smbd): each fault does exactly what the
// reliability and security suites rely on, at frame granularity.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';

function frame(payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(payload.length, 0);
  return Buffer.concat([head, payload]);
}

interface Peer {
  socket: Socket;
  received: () => Buffer;
  ended: Promise<'end' | 'reset' | 'close'>;
}

function peer(socket: Socket): Peer {
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  const ended = new Promise<'end' | 'reset' | 'close'>((resolve) => {
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNRESET' ? 'reset' : 'close'));
    socket.on('end', () => resolve('end'));
    socket.on('close', () => resolve('close'));
  });
  return { socket, received: () => Buffer.concat(chunks), ended };
}

async function until(pred: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

let upstream: Server;
let servers: Peer[];
let proxy: FaultProxy;
let client: Peer;
let server: Peer;

beforeEach(async () => {
  servers = [];
  upstream = createServer((s) => servers.push(peer(s)));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const port = (upstream.address() as { port: number }).port;
  proxy = await startFaultProxy({ targetPort: port, capture: true });
  client = peer(connect({ host: '127.0.0.1', port: proxy.port }));
  await until(() => servers.length === 1);
  server = servers[0]!;
});

afterEach(async () => {
  client.socket.destroy();
  for (const s of servers) s.socket.destroy();
  await proxy.close();
  await new Promise<void>((r) => upstream.close(() => r()));
});

const A = frame(Buffer.from('first message, server to client'));
const B = frame(Buffer.alloc(70_000, 0x42)); // larger than one TCP chunk
const C = frame(Buffer.from('third'));

describe('fault proxy', () => {
  it('passes frames through whole and in order however TCP splits them; captures them', async () => {
    const all = Buffer.concat([A, B, C]);
    for (let i = 0; i < all.length; i += 997) server.socket.write(all.subarray(i, i + 997));
    client.socket.write(C);
    await until(() => client.received().length === all.length && server.received().length === C.length);
    expect(client.received().equals(all)).toBe(true);
    expect(proxy.frames.map((f) => `${f.dir}:${f.payload.length}`)).toEqual(expect.arrayContaining([`s2c:${A.length - 4}`, `s2c:${B.length - 4}`, `s2c:${C.length - 4}`, `c2s:${C.length - 4}`]));
  });

  it('flip: one byte of the next matching frame, at the given offset; the others untouched', async () => {
    const flipped = proxy.flip({ match: (p) => p.length > 1000, offset: 10, mask: 0xff });
    server.socket.write(Buffer.concat([A, B, C]));
    const r = await flipped;
    expect(r.offsets).toEqual([10]);
    await until(() => client.received().length === A.length + B.length + C.length);
    const got = client.received();
    const expected = Buffer.concat([A, B, C]);
    expected[A.length + 4 + 10] ^= 0xff;
    expect(got.equals(expected)).toBe(true);
  });

  it('cut: half of the next frame, then RST to both sides; nothing after it', async () => {
    const cut = proxy.cut({ match: (p) => p.length > 1000 });
    server.socket.write(Buffer.concat([A, B, C]));
    const r = await cut;
    expect(r.forwarded).toBe(Math.floor(B.length / 2));
    // The client may see the RST as an end of stream: libuv reports EOF when the last data and the
    // reset come in one poll (EPOLLRDHUP after a partial read). The upstream side shows it plainly.
    expect(['reset', 'end']).toContain(await client.ended);
    expect(client.received().equals(Buffer.concat([A, B.subarray(0, r.forwarded)]))).toBe(true);
    expect(await server.ended).toBe('reset');
  });

  it('truncate: the first bytes of the next frame, then a normal FIN', async () => {
    const cut = proxy.truncate({ keepBytes: 7 });
    server.socket.write(A);
    await cut;
    expect(await client.ended).toBe('end');
    expect(client.received().equals(A.subarray(0, 7))).toBe(true);
    expect(await server.ended).toBe('end');
  });

  it('stall holds frames (sockets open) until resume, then delivers them in order', async () => {
    proxy.stall();
    server.socket.write(Buffer.concat([A, C]));
    await new Promise((r) => setTimeout(r, 100));
    expect(client.received().length).toBe(0);
    expect(proxy.live).toBe(1);
    proxy.resume();
    await until(() => client.received().length === A.length + C.length);
    expect(client.received().equals(Buffer.concat([A, C]))).toBe(true);
  });

  it('delay holds each frame the given time', async () => {
    proxy.delay(60);
    const t0 = Date.now();
    server.socket.write(Buffer.concat([A, C]));
    await until(() => client.received().length === A.length + C.length);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(110);
  });

  it('cutNow resets every live connection; refuse resets new ones at once', async () => {
    expect(proxy.cutNow()).toBe(1);
    expect(await client.ended).toBe('reset');
    expect(await server.ended).toBe('reset');
    proxy.refuse(true);
    const next = peer(connect({ host: '127.0.0.1', port: proxy.port }));
    expect(['reset', 'close']).toContain(await next.ended);
    expect(servers).toHaveLength(1); // never reached the upstream
  });

  it('an armed fault that finds no frame rejects after its timeout', async () => {
    await expect(proxy.flip({ timeoutMs: 50 })).rejects.toThrow(/no s2c frame/);
  });
});
