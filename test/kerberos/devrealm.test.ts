import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'vitest';
import { startRealm } from '../support/kerberos.js';
test('devrealm', async () => {
  const realm = await startRealm();
  try {
    const cc = `FILE:${realm.dir}/alice.cc`;
    realm.kinit(cc);
    writeFileSync('/tmp/krb-dev.env', `export KRB5_CONFIG=${realm.krb5Conf} KRB5CCNAME=${cc} PORT=${realm.smbPort} DIR=${realm.dir} BOBKT=${realm.bob.keytab} KDCPORT=${realm.kdcPort}\n`);
    await sleep(Number(process.env.DEV_SECONDS ?? 300) * 1000);
  } finally {
    await realm.stop();
  }
}, 1_000_000);
