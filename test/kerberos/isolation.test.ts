// While the test domain controller runs, every other smbd on the machine must keep accepting
// password logins: the DC's winbindd has to stay off the machine-wide pipe (see
// test/support/kerberos.ts). Other developers' and CI's Samba tests depend on it.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startRealm, type Realm } from '../support/kerberos.js';
import { startSamba, type SambaServer } from '../support/samba.js';

let realm: Realm;
let samba: SambaServer;

beforeAll(async () => {
  realm = await startRealm();
  samba = await startSamba({ signing: 'mandatory' });
}, 120_000);

afterAll(async () => {
  await samba?.stop();
  await realm?.stop();
});

test('a password user logs in to an ordinary smbd while the DC runs, and the DC keeps its winbindd pipe to itself', async () => {
  const r = await samba.smbclient(['-c', 'ls']);
  expect(r.stderr + r.stdout).not.toMatch(/LOGON_FAILURE/);
  expect(r.code).toBe(0);
  realm.assertIsolated();
});
