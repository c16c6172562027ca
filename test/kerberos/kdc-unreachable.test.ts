// A KDC that never answers must not freeze the daemon. libkrb5 waits its whole timeout for the
// KDC (27 s here); the addon runs gss_init_sec_context on a thread of its own, so the event loop
// runs on meanwhile. One daemon, two watches on an ordinary test smbd:
// - "ntlm": a password watch, which must keep reporting changes while the other one waits;
// - "krb": a Kerberos watch whose ticket must come from a silent KDC (a client keytab and an empty
//   cache: the AS request goes to the KDC, which accepts and never replies).
// The changes on the NTLM watch must be reported while the KDC request is still pending (its TCP
// connection open, no error said yet); the Kerberos watch then says "Kerberos KDC unreachable" in
// one line and keeps retrying. No domain controller is needed: the KDC never gets that far.
import { mkdirSync, readFileSync, existsSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { credentialsFile, runCli } from '../support/cli.js';
import { krb5ConfText, makeKeytab, startSilentKdc, DC_HOST, REALM, type SilentKdc } from '../support/kerberos.js';
import { startSamba, type SambaServer } from '../support/samba.js';

let samba: SambaServer;
let kdc: SilentKdc;
let dir: string;

beforeAll(async () => {
  samba = await startSamba();
  kdc = await startSilentKdc();
  dir = join(samba.dir, 'kerberos');
  mkdirSync(dir);
  for (const folder of ['ntlm', 'krb']) {
    mkdirSync(join(samba.sharePath, folder));
    chmodSync(join(samba.sharePath, folder), 0o777);
  }
}, 60_000);

afterAll(async () => {
  await kdc?.close();
  await samba?.stop();
});

function journalCreates(journal: string): string[] {
  if (!existsSync(journal)) return [];
  return readFileSync(journal, 'utf8').split('\n').filter(Boolean)
    .map((l) => JSON.parse(l) as { event: string; path: string })
    .filter((e) => e.event === 'CREATE')
    .map((e) => e.path);
}

async function until<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

it('while a Kerberos login waits on a silent KDC, the other watches of the daemon keep reporting', async () => {
  const keytab = join(dir, 'bob.keytab');
  makeKeytab(keytab, `bob@${REALM}`);
  const krb5Conf = join(dir, 'krb5.conf');
  writeFileSync(krb5Conf, krb5ConfText(kdc.port));
  const journal = join(dir, 'journal', 'events.jsonl');
  const config = join(dir, 'config');
  writeFileSync(config, [
    '[daemon]', 'follow-desktop = no', `journal = ${journal}`, 'bus = none', '',
    '[watch ntlm]', `target = smb://${samba.host}:${samba.port}/${samba.share}/ntlm`, `credentials = ${credentialsFile(samba)}`, '',
    '[watch krb]', `target = smb://${DC_HOST}:${samba.port}/${samba.share}/krb`, 'kerberos = required', 'ip-address = 127.0.0.1', '',
  ].join('\n'));
  const d = runCli(['daemon', '--config', config, '--mountinfo', '/dev/null'], {
    KRB5_CONFIG: krb5Conf,
    KRB5CCNAME: `MEMORY:smbnotify-test`,
    KRB5_CLIENT_KTNAME: keytab,
  });
  try {
    await d.waitLine(/\/data\/ntlm: watching/, 30_000, 'stderr');
    // The Kerberos watch has negotiated with smbd and asked the KDC, which keeps silent.
    await until('a pending KDC request', () => (kdc.requests > 0 && kdc.open > 0 ? true : undefined), 30_000);
    const unreachable = /\/data\/krb: .*Kerberos KDC unreachable/;
    for (const name of ['during-1.txt', 'during-2.txt']) {
      writeFileSync(join(samba.sharePath, 'ntlm', name), name);
      await until(`${name} reported`, () => (journalCreates(journal).includes(`ntlm/${name}`) ? true : undefined), 20_000);
      // Reported while the login is still waiting: the KDC connection is open, no error yet.
      expect(kdc.open).toBeGreaterThan(0);
      expect(d.stderr.filter((l) => unreachable.test(l))).toEqual([]);
    }
    // Then the Kerberos watch gives up this attempt, in words, and will try again.
    const line = await d.waitLine(unreachable, 90_000, 'stderr');
    expect(line).toMatch(/^w\d+ \/\/dc\.test\.lan:\d+\/data\/krb: reconnecting: cannot connect \(Kerberos KDC unreachable: .*Cannot contact any KDC for realm 'TEST\.LAN'.*\); retrying in \d+ s$/);
    writeFileSync(join(samba.sharePath, 'ntlm', 'after.txt'), 'x');
    await until('after.txt reported', () => (journalCreates(journal).includes('ntlm/after.txt') ? true : undefined), 20_000);
    expect(journalCreates(journal)).toEqual(['ntlm/during-1.txt', 'ntlm/during-2.txt', 'ntlm/after.txt']);
  } catch (err) {
    (err as Error).message += `\n--- daemon stderr:\n${d.stderr.slice(-20).join('\n')}`;
    throw err;
  } finally {
    d.child.kill('SIGTERM');
    await d.exit;
  }
}, 180_000);
