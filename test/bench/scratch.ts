import { stopAllSamba } from '../support/samba.js';
import { Context } from './lib/context.js';
import { scale } from './scale.js';
process.env['TMPDIR'] = '/dev/shm';
const ctx = new Context({ quick: true, only: new Set(), cpuProfDir: null });
try {
  const r = await scale(ctx);
  console.log(JSON.stringify(r, null, 1));
} finally { await stopAllSamba(); }
