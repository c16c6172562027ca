import { it } from 'vitest';
import { connectBus } from '../../src/sinks/bus.js';
it('x', async () => {
for (const a of ['unix:path=/nonexistent/bus', 'unix:abstract=nonexist', 'tcp:host=127.0.0.1,port=1', 'foo', 'system', 'session', 'unix:path=/etc/passwd', 'unix:path=/tmp']) {
  try { const b = await connectBus(a, { timeoutMs: 1000 }); console.log('ok', a); b.disconnect(); } catch (e) { console.log(a, '->', (e as Error).message); }
}
});
