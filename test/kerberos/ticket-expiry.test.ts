// Tickets end, and Samba ends the SMB session with them (STATUS_NETWORK_SESSION_EXPIRED while TCP
// stays up). Two watches run through the end of a short ticket (kinit -l 150s; the KDC refuses
// a service ticket when the TGT has 120 s or less left):
// - "renewed": the cache gets a fresh ticket before the end (as SSSD or a kinit -R cron does);
//   the watch re-authenticates its session ahead of the end (at half of a ticket this short), so
//   that no request ever meets the expiry, keeps its handles, and reports every change made
//   before, across and after the old ticket's end, with no reconnect.
// - "keytab": a service with a client keytab (KRB5_CLIENT_KTNAME, a MEMORY cache) and 150 s
//   tickets: libkrb5 gets a fresh TGT from the keytab itself; the session is renewed ahead of
//   its end too, and never meets the expiry.
// - "lapsed": nobody renews; the watch says, in one line, whose ticket expired and to run kinit,
//   keeps its handles and requests while it retries, and once kinit has run reports the changes
//   made meanwhile (the server kept them on the open handle).
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli, type Running } from '../support/cli.js';
import { krb5ConfWith, useRealm, type Realm } from '../support/kerberos.js';

const TICKET_SECONDS = 150;
const theRealm = useRealm('ticket-expiry', { beforeAll, afterAll });
let realm: Realm;

beforeAll(() => {
  realm = theRealm();
});

function startWatch(folder: string, cache: string, env: Record<string, string> = realm.clientEnv(cache)): Running {
  mkdirSync(join(realm.sharePath, folder));
  chmodSync(join(realm.sharePath, folder), 0o777);
  return runCli(
    ['watch', '-m', '--json', '-k', '-I', '127.0.0.1', '-p', String(realm.smbPort), '--max-protocol', 'SMB3_11', `//${realm.host}/share/${folder}`],
    env,
  );
}

function create(folder: string, name: string): void {
  writeFileSync(join(realm.sharePath, folder, name), name);
}

async function until(deadline: number): Promise<void> {
  const left = deadline - Date.now();
  if (left > 0) await sleep(left);
}

it('a watch keeps its session across the end of its ticket: renewed in time, or after kinit', async () => {
  const renewedCache = `FILE:${join(realm.dir, 'renewed.cc')}`;
  const lapsedCache = `FILE:${join(realm.dir, 'lapsed.cc')}`;
  realm.kinit(renewedCache, `${TICKET_SECONDS}s`);
  realm.kinit(lapsedCache, `${TICKET_SECONDS}s`);
  const ticketEnd = Date.now() + TICKET_SECONDS * 1000;
  const renewed = startWatch('renewed', renewedCache);
  const lapsed = startWatch('lapsed', lapsedCache);
  // A service with a client keytab and 150 s tickets: libkrb5 gets a new TGT from the keytab
  // half-way through the old one's life, while the old service ticket stays in the cache; the
  // renewal asks for a service ticket that outlives the session's, so it is renewed ahead too.
  const keytabConf = join(realm.dir, 'krb5-keytab.conf');
  writeFileSync(keytabConf, krb5ConfWith(realm.kdcPort, [`ticket_lifetime = ${TICKET_SECONDS}s`]));
  const keytabEnd = Date.now() + TICKET_SECONDS * 1000;
  const keytab = startWatch('keytab', 'MEMORY:keytab', { KRB5_CONFIG: keytabConf, KRB5CCNAME: 'MEMORY:keytab', KRB5_CLIENT_KTNAME: realm.bob.keytab });
  try {
    await keytab.waitLine(/"state":"watching"/, 20_000);
    await renewed.waitLine(/"state":"watching"/, 20_000);
    await lapsed.waitLine(/"state":"watching"/, 20_000);
    create('renewed', 'before.txt');
    create('lapsed', 'before.txt');
    await renewed.waitLine(/"CREATE".*renewed\/before\.txt/, 20_000);
    await lapsed.waitLine(/"CREATE".*before\.txt/, 20_000);

    // The renewal, well before the end: a new TGT in the same cache (no service ticket yet).
    realm.kinit(renewedCache);
    // The watch takes it before the old ticket ends (half-way through its life): said in one
    // line, and from then on the server's end for the session is the new ticket's.
    const ahead = await renewed.waitLine(/Kerberos session renewed before its ticket ended/, ticketEnd - Date.now());
    expect(JSON.parse(ahead)).toMatchObject({ event: 'STATE', state: 'watching' });
    // The new service ticket lasts as long as the new TGT allows (hours), not just past the old
    // end: that made the session renew every 30 s for good.
    const validUntil = Date.parse(/valid until (\S+)\)/.exec(ahead)?.[1] ?? '');
    expect(validUntil - ticketEnd).toBeGreaterThan(30 * 60_000);

    const keytabAhead = await keytab.waitLine(/Kerberos session renewed before its ticket ended/, keytabEnd - Date.now());
    expect(JSON.parse(keytabAhead)).toMatchObject({ event: 'STATE', state: 'watching' });

    // Across the end: one change just before, then several after it.
    await until(ticketEnd - 10_000);
    create('renewed', 'just-before-end.txt');
    await until(ticketEnd + 5_000);
    for (const name of ['after-end-1.txt', 'after-end-2.txt']) {
      create('renewed', name);
      await sleep(1000);
    }
    for (const name of ['just-before-end.txt', 'after-end-1.txt', 'after-end-2.txt']) {
      await renewed.waitLine(new RegExp(`"CREATE".*${name.replace(/\./g, '\\.')}`), 30_000);
    }

    // The lapsed watch: its next request finds the session expired and no fresh ticket; it says
    // so, holds its requests and handles, and the changes made meanwhile wait on the server.
    const said = await lapsed.waitLine(/Kerberos ticket expired for alice@TEST\.LAN: run kinit/, 30_000);
    expect(JSON.parse(said)).toMatchObject({ event: 'STATE', state: 'watching' });
    create('lapsed', 'after-end.txt');
    await sleep(1500);
    create('lapsed', 'while-expired.txt');
    await sleep(1500);
    realm.kinit(lapsedCache);
    await lapsed.waitLine(/"CREATE".*after-end\.txt/, 60_000);
    await lapsed.waitLine(/"CREATE".*while-expired\.txt/, 10_000);
    await lapsed.waitLine(/Kerberos session renewed/, 10_000);
    create('lapsed', 'after-kinit.txt');
    await lapsed.waitLine(/"CREATE".*after-kinit\.txt/, 20_000);

    // Nothing was lost and nothing restarted: no reconnect, no OVERFLOW or rescan, no duplicate.
    for (const w of [renewed, lapsed]) {
      const events = w.stdout.map((l) => JSON.parse(l) as { event: string; state?: string; path: string; message?: string });
      expect(events.filter((e) => e.event === 'STATE' && e.state !== 'watching')).toEqual([]);
      expect(events.filter((e) => e.event === 'OVERFLOW')).toEqual([]);
      const created = events.filter((e) => e.event === 'CREATE').map((e) => e.path);
      expect(new Set(created).size).toBe(created.length);
    }
    const renewedCreated = renewed.stdout.map((l) => JSON.parse(l) as { event: string; path: string }).filter((e) => e.event === 'CREATE').map((e) => e.path);
    expect(renewedCreated).toEqual(['before.txt', 'just-before-end.txt', 'after-end-1.txt', 'after-end-2.txt'].map((n) => `renewed/${n}`));
    // No request of the renewed watch met the expiry: it would have said so (the expiry path
    // says "expired with its ticket", or "ticket expired" when it has no fresh ticket).
    expect(renewed.stdout.join('\n')).not.toMatch(/expired/);
    create('keytab', 'after-end.txt');
    await keytab.waitLine(/"CREATE".*keytab\/after-end\.txt/, 20_000);
    expect(keytab.stdout.join('\n')).not.toMatch(/expired/);
    const lapsedCreated = lapsed.stdout.map((l) => JSON.parse(l) as { event: string; path: string }).filter((e) => e.event === 'CREATE').map((e) => e.path);
    expect(lapsedCreated).toEqual(['before.txt', 'after-end.txt', 'while-expired.txt', 'after-kinit.txt'].map((n) => `lapsed/${n}`));
  } catch (err) {
    // Both streams in the failure: a 4-minute test is not one to rerun blind.
    const tail = (w: Running) => [...w.stdout.slice(-15), ...w.stderr.slice(-5)].join('\n');
    (err as Error).message += `\n--- renewed:\n${tail(renewed)}\n--- lapsed:\n${tail(lapsed)}\n--- keytab:\n${tail(keytab)}`;
    throw err;
  } finally {
    for (const w of [renewed, lapsed, keytab]) w.child.kill('SIGTERM');
    await Promise.all([renewed.exit, lapsed.exit, keytab.exit]);
  }
}, 540_000);
