// Reaching a bus, as a user meets it: an abstract-socket address works with no native module,
// and a missing bus is one line saying what is wrong and what to do (never "internal error").
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installCommand, PACKAGE_ROOT, tryLoadUsocket } from '../../src/platform/usocket.js';
import { runCli } from '../support/cli.js';
import { startDbus, type DbusBus } from '../support/dbus.js';

let abstractBus: DbusBus;
beforeAll(async () => {
  const name = `smbnotify-test-${randomBytes(6).toString('hex')}`;
  abstractBus = await startDbus({ listen: () => `unix:abstract=${name}` });
});
afterAll(async () => {
  await abstractBus?.stop();
});

describe('bus addresses', () => {
  it('unix:abstract= without usocket: one line naming the optional package and the alternative', async () => {
    expect(abstractBus.address).toMatch(/^unix:abstract=smbnotify-test-/);
    const run = runCli(['status', '--bus', abstractBus.address]);
    const { code } = await run.exit;
    const plain = abstractBus.address.replace(/,guid=.*$/, '');
    if (tryLoadUsocket()) {
      expect(run.stderr).toEqual([`smbnotify: the smbnotify daemon is not running on the bus ${plain}`]);
    } else {
      expect(run.stderr).toEqual([
        `smbnotify: the abstract-socket bus address ${plain} needs the optional package usocket, which is not installed: run \`${installCommand('usocket')}\` in ${PACKAGE_ROOT} (it compiles C++: needs python3, make and g++); or use a unix:path= address`,
      ]);
    }
    expect(code).toBe(1);
  });

  it('unix:path= needs nothing native: status reaches the bus and finds no daemon there', async () => {
    const pathBus = await startDbus();
    try {
      const run = runCli(['status', '--bus', pathBus.address]);
      const { code } = await run.exit;
      expect(run.stderr).toEqual([`smbnotify: the smbnotify daemon is not running on the bus ${pathBus.address.replace(/,guid=.*$/, '')}`]);
      expect(code).toBe(1);
    } finally {
      await pathBus.stop();
    }
  });

  it('no session bus: says so and what to do, exit 1', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'smbnotify-norun-'));
    const run = runCli(['status'], { XDG_RUNTIME_DIR: empty });
    const { code } = await run.exit;
    expect(run.stderr).toEqual([
      'smbnotify: no session bus: DBUS_SESSION_BUS_ADDRESS is not set (this is not a desktop session): run inside your desktop session, give --bus ADDRESS, or use --bus system for the system service',
    ]);
    expect(code).toBe(1);
  });

  it('no session bus, but XDG_RUNTIME_DIR/bus exists: names it', async () => {
    const pathBus = await startDbus(); // listens on DIR/bus, where a desktop session's bus is
    try {
      const run = runCli(['monitor'], { XDG_RUNTIME_DIR: pathBus.dir });
      const { code } = await run.exit;
      expect(run.stderr).toEqual([
        `smbnotify: no session bus: DBUS_SESSION_BUS_ADDRESS is not set, but ${pathBus.dir}/bus exists: run \`export DBUS_SESSION_BUS_ADDRESS=unix:path=${pathBus.dir}/bus\` or give --bus unix:path=${pathBus.dir}/bus`,
      ]);
      expect(code).toBe(1);
    } finally {
      await pathBus.stop();
    }
  });

  it('no system bus: says which socket and how to check, exit 1', async () => {
    const run = runCli(['status', '--bus', 'system'], { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${abstractBus.dir}/no-system-bus` });
    const { code } = await run.exit;
    expect(run.stderr).toEqual([
      `smbnotify: cannot connect to the system bus (unix:path=${abstractBus.dir}/no-system-bus): no such socket (is the system bus running? \`systemctl status dbus\`)`,
    ]);
    expect(code).toBe(1);
  });
});
