// On the system bus, a caller that is not root (nor in the group "smbnotify") cannot add or remove
// watches; anyone may list them and read the status. This is the shipped policy file,
// systemd/io.github.smbnotify.conf, included into a test bus whose default policy is Debian's
// system.conf (deny method calls and name ownership unless a service file punches a hole). The
// daemon runs as root, `smbnotify daemon --bus system`; the callers are gdbus and busctl run as
// root and as nobody (setpriv).
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, readFileSync, rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile, requireBuild, runCli, type Running } from '../support/cli.js';
import { startDbus, type DbusBus } from '../support/dbus.js';
import { startSamba, stopAllSamba, type SambaServer } from '../support/samba.js';
import { requireTool } from '../support/tools.js';

const run = promisify(execFile);
const NAME = 'io.github.smbnotify';
const OBJ = '/io/github/smbnotify';
const IFACE = 'io.github.smbnotify.Watcher1';
const POLICY = join(import.meta.dirname, '..', '..', 'systemd', 'io.github.smbnotify.conf');
/** An existing group standing in for "smbnotify", so that no group is created on the machine. */
const STAND_IN_GROUP = 'users';

/** Debian 12's /usr/share/dbus-1/system.conf default policy, listening in `dir`, plus `include`. */
function systemBusConfig(dir: string, include: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path=${dir}/system_bus_socket</listen>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus" send_member="UpdateActivationEnvironment"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Debug.Stats"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <include>${include}</include>
</busconfig>
`;
}

let samba: SambaServer;
let cred: string;
let scratch: string;

beforeAll(async () => {
  requireBuild();
  if (process.getuid?.() !== 0) {
    throw new Error('the system-bus policy test runs as root (it starts callers as nobody with setpriv): run it as root, as CI does');
  }
  samba = await startSamba({});
  cred = credentialsFile(samba);
  scratch = mkdtempSync(join(tmpdir(), 'smbnotify-sysbus-'));
});

afterAll(async () => {
  await stopAllSamba();
  rmSync(scratch, { recursive: true, force: true });
});

type Caller = 'root' | 'nobody' | 'nobody+group';

/** gdbus call as `who`; resolves with stdout, or with `ERROR: <stderr>` when the call failed. */
async function gdbus(bus: DbusBus, who: Caller, method: string, ...args: string[]): Promise<string> {
  const tool = requireTool('gdbus', 'libglib2.0-bin');
  const argv = ['call', '--address', bus.address, '--dest', NAME, '--object-path', OBJ, '--method', method.includes('.') ? method : `${IFACE}.${method}`, ...args];
  return as(who, tool, argv);
}

async function as(who: Caller, tool: string, argv: string[]): Promise<string> {
  const setpriv = requireTool('setpriv', 'util-linux');
  const drop =
    who === 'root'
      ? []
      : [setpriv, '--reuid=nobody', '--regid=nogroup', ...(who === 'nobody' ? ['--clear-groups'] : [`--groups=${STAND_IN_GROUP}`]), '--'];
  const [cmd, ...rest] = [...drop, tool, ...argv];
  try {
    const { stdout } = await run(cmd!, rest, { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/nonexistent' }, timeout: 10_000 });
    return stdout;
  } catch (err) {
    return `ERROR: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`;
  }
}

/** A system bus with the shipped policy, its group played by STAND_IN_GROUP, and a daemon on it. */
async function groupPolicyBus(name: string): Promise<{ bus: DbusBus; stop(): Promise<void> }> {
  const policy = join(scratch, `policy-${name}.conf`);
  writeFileSync(policy, readFileSync(POLICY, 'utf8').replace('<policy group="smbnotify">', `<policy group="${STAND_IN_GROUP}">`));
  const bus = await startDbus({ config: (dir) => systemBusConfig(dir, policy) });
  const daemon = await startDaemonOn(bus);
  return {
    bus,
    async stop() {
      await stopDaemon(daemon);
      await bus.stop();
    },
  };
}

async function startDaemonOn(bus: DbusBus): Promise<Running> {
  const config = join(scratch, `daemon-${Date.now()}.conf`);
  writeFileSync(config, '[daemon]\nfollow-desktop = no\n');
  const d = runCli(
    ['daemon', '--bus', 'system', '--config', config, '--journal', 'off', '--mountinfo', '/dev/null', '--watch', `smb://127.0.0.1:${samba.port}/data`, '-A', cred],
    { DBUS_SYSTEM_BUS_ADDRESS: bus.address },
  );
  await d.waitLine(/daemon running: 1 watch,/, 20_000, 'stderr');
  await d.waitLine(/^w\d+ .*: watching$/, 20_000, 'stderr');
  return d;
}

async function stopDaemon(d: Running): Promise<void> {
  d.child.kill('SIGTERM');
  const { code } = await d.exit;
  expect(code, d.stderr.join('\n')).toBe(0);
}

const ACCESS_DENIED = /org\.freedesktop\.DBus\.Error\.AccessDenied/;

describe('the shipped system-bus policy', () => {
  let bus: DbusBus;
  let daemon: Running;

  beforeAll(async () => {
    bus = await startDbus({ config: (dir) => systemBusConfig(dir, POLICY) });
    daemon = await startDaemonOn(bus);
  });

  afterAll(async () => {
    if (daemon) await stopDaemon(daemon);
    await bus?.stop();
  });

  it('nobody can list the watches and read the status', async () => {
    expect(await gdbus(bus, 'nobody', 'ListWatches')).toMatch(/'id': <'w1'>/);
    expect(await gdbus(bus, 'nobody', 'GetStatus')).toMatch(/'watches': <uint32 1>/);
    expect(await gdbus(bus, 'nobody', 'org.freedesktop.DBus.Introspectable.Introspect')).toContain(IFACE);
  });

  it('nobody cannot add or remove a watch (AccessDenied from the bus, the daemon never sees it)', async () => {
    const add = await gdbus(bus, 'nobody', 'AddWatch', `smb://127.0.0.1:${samba.port}/data`, `{'credentialsFile': <'${cred}'>}`);
    expect(add).toMatch(ACCESS_DENIED);
    const remove = await gdbus(bus, 'nobody', 'RemoveWatch', 'w1');
    expect(remove).toMatch(ACCESS_DENIED);
    // busctl as well (another client library, the same verdict).
    const busctl = requireTool('busctl', 'systemd');
    expect(await as('nobody', busctl, [`--address=${bus.address}`, 'call', NAME, OBJ, IFACE, 'RemoveWatch', 's', 'w1'])).toMatch(/Access denied|AccessDenied/i);
    // Nor through org.freedesktop.DBus.Properties or another interface name.
    expect(await gdbus(bus, 'nobody', 'org.freedesktop.DBus.Properties.GetAll', IFACE)).toMatch(ACCESS_DENIED);
    expect(await gdbus(bus, 'nobody', 'io.github.smbnotify.Watcher2.AddWatch', 'x', '{}')).toMatch(ACCESS_DENIED);
    // Nothing changed.
    const listed = await gdbus(bus, 'root', 'ListWatches');
    expect(listed.match(/'id': </g)).toHaveLength(1);
    expect(listed).toMatch(/'id': <'w1'>/);
  });

  it('root can add and remove watches', async () => {
    const added = await gdbus(bus, 'root', 'AddWatch', `smb://127.0.0.1:${samba.port}/data`, `{'credentialsFile': <'${cred}'>}`);
    const id = /'(w\d+)'/.exec(added)?.[1];
    expect(id, added).toBeDefined();
    expect(await gdbus(bus, 'nobody', 'ListWatches')).toContain(`'id': <'${id}'>`);
    expect(await gdbus(bus, 'root', 'RemoveWatch', id!)).not.toMatch(/ERROR/);
    expect(await gdbus(bus, 'nobody', 'ListWatches')).not.toContain(`'id': <'${id}'>`);
  });

  it('nobody cannot own the name (a second daemon as nobody would be refused)', async () => {
    // The policy's "deny own" for everyone but root: checked with the bus's own answer to
    // RequestName, made by dbus-send as nobody.
    const dbusSend = requireTool('dbus-send', 'dbus-bin');
    const out = await as('nobody', dbusSend, [`--bus=${bus.address}`, '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.RequestName', `string:${NAME}`, 'uint32:4']);
    expect(out).toMatch(ACCESS_DENIED);
  });
});

/** The test user's credentials in a file only nobody (and root) can read: mode 0600, owner nobody. */
function nobodysCred(): string {
  const dir = mkdtempSync(join(tmpdir(), 'smbnotify-nobody-'));
  chmodSync(dir, 0o755);
  const file = join(dir, 'cred');
  writeFileSync(file, readFileSync(cred), { mode: 0o600 });
  chownSync(file, 65534, 65534);
  return file;
}

describe('the policy\'s group rule (group "smbnotify", played by an existing group)', () => {
  it('a member of the group may add and remove watches; the same user without it may not', async () => {
    const policy = join(scratch, 'policy-group.conf');
    const text = readFileSync(POLICY, 'utf8');
    expect(text).toContain('<policy group="smbnotify">');
    writeFileSync(policy, text.replace('<policy group="smbnotify">', `<policy group="${STAND_IN_GROUP}">`));
    const bus = await startDbus({ config: (dir) => systemBusConfig(dir, policy) });
    const daemon = await startDaemonOn(bus);
    try {
      expect(await gdbus(bus, 'nobody', 'AddWatch', `smb://127.0.0.1:${samba.port}/data`, `{'credentialsFile': <'${cred}'>}`)).toMatch(ACCESS_DENIED);
      // Allowed by the policy, but the credentials must be the caller's own: see the next test.
      const added = await gdbus(bus, 'nobody+group', 'AddWatch', `smb://127.0.0.1:${samba.port}/data`, `{'credentialsFile': <'${nobodysCred()}'>}`);
      const id = /'(w\d+)'/.exec(added)?.[1];
      expect(id, added).toBeDefined();
      expect(await gdbus(bus, 'nobody', 'RemoveWatch', id!)).toMatch(ACCESS_DENIED);
      expect(await gdbus(bus, 'nobody+group', 'RemoveWatch', id!)).not.toMatch(/ERROR/);
    } finally {
      await stopDaemon(daemon);
      await bus.stop();
    }
  }, 40_000);
});

describe('AddWatch credentialsFile on the system bus: only what the caller could read', () => {
  it('a caller the policy allows cannot make the root daemon use a root-only credentials file', async () => {
    const { bus, stop } = await groupPolicyBus('creds');
    try {
      const target = `smb://127.0.0.1:${samba.port}/data`;
      // cred: root's, mode 0600 in a 0700 folder. The daemon (root) could read it; nobody cannot.
      const refused = await gdbus(bus, 'nobody+group', 'AddWatch', target, `{'credentialsFile': <'${cred}'>}`);
      expect(refused.trim()).toBe(`ERROR: Error: GDBus.Error:io.github.smbnotify.Error.InvalidArgs: cannot read credentials file ${cred}: permission denied (the caller cannot read it)`);
      // Inside a folder the caller cannot enter, even a missing file is "permission denied": the
      // answer is the caller's own view, never the daemon's.
      const hidden = await gdbus(bus, 'nobody+group', 'AddWatch', target, `{'credentialsFile': <'${scratch}/none'>}`);
      expect(hidden.trim()).toBe(`ERROR: Error: GDBus.Error:io.github.smbnotify.Error.InvalidArgs: cannot read credentials file ${scratch}/none: permission denied (the caller cannot read it)`);
      const missingFile = join(tmpdir(), `smbnotify-no-such-cred-${process.pid}`);
      const missing = await gdbus(bus, 'nobody+group', 'AddWatch', target, `{'credentialsFile': <'${missingFile}'>}`);
      expect(missing.trim()).toBe(`ERROR: Error: GDBus.Error:io.github.smbnotify.Error.InvalidArgs: cannot read credentials file ${missingFile}: no such file`);
      expect((await gdbus(bus, 'root', 'ListWatches')).match(/'id': </g)).toHaveLength(1);
      // The caller's own file works, and so does root's file for root.
      const own = await gdbus(bus, 'nobody+group', 'AddWatch', target, `{'credentialsFile': <'${nobodysCred()}'>}`);
      expect(own).toMatch(/^\('w\d+',\)/);
      const rootOwn = await gdbus(bus, 'root', 'AddWatch', target, `{'credentialsFile': <'${cred}'>}`);
      expect(rootOwn).toMatch(/^\('w\d+',\)/);
      const listed = await gdbus(bus, 'root', 'ListWatches');
      expect(listed.match(/'state': <'watching'>/g)).toHaveLength(3);
    } finally {
      await stop();
    }
  }, 40_000);
});

describe('AddWatch krb5Ccache on the system bus: only a FILE cache the caller could read', () => {
  it('a caller the policy allows cannot make the root daemon log on with root\'s ticket', async () => {
    const { bus, stop } = await groupPolicyBus('ccache');
    try {
      const target = `smb://127.0.0.1:${samba.port}/data`;
      const prefix = 'ERROR: Error: GDBus.Error:io.github.smbnotify.Error.InvalidArgs: ';
      // A KCM or KEYRING cache belongs to whoever asks the daemon for it: root's, here.
      for (const ccache of ['KCM:', 'KEYRING:persistent:0', 'DIR:/tmp', 'MEMORY:x']) {
        const refused = await gdbus(bus, 'nobody+group', 'AddWatch', target, `{'kerberos': <'required'>, 'krb5Ccache': <'${ccache}'>}`);
        expect(refused.trim()).toBe(`${prefix}krb5Ccache ${ccache}: only the daemon's own user may name a cache that is not FILE:/absolute/path (the daemon cannot tell whether you may use it)`);
      }
      // A FILE cache is read as the caller: root's 0600 file in a 0700 folder is refused.
      const refused = await gdbus(bus, 'nobody+group', 'AddWatch', target, `{'kerberos': <'required'>, 'krb5Ccache': <'FILE:${cred}'>}`);
      expect(refused.trim()).toBe(`${prefix}cannot use credential cache FILE:${cred}: permission denied (the caller cannot read it)`);
      // Only the command line's watch: nothing was added by the refused calls.
      expect((await gdbus(bus, 'root', 'ListWatches')).match(/'id': </g)).toHaveLength(1);
    } finally {
      await stop();
    }
  }, 40_000);
});
