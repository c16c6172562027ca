/**
 * Connection options shared by every subcommand that talks to a server, and the one place that
 * turns TARGET + options into a connected client and tree.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { SmbClient } from '../smb/client.js';
import type { Credentials, DialectName, Protection } from '../smb/types.js';
import { resolveCredentials, type CredentialsIO } from '../config/credentials.js';
import { resolveLogon, type KerberosOptions } from '../config/kerberos.js';
import { CommandFailed, UsageError, type ErrorContext } from './errors.js';
import { ipAddressOf, parsePortNumber, parseTarget, targetPort, type Target } from '../config/target.js';

/** TARGET as `--help` shows it: the forms parseTarget accepts (an IPv6 address: `smb://[::1]/SHARE`, `//::1/SHARE`). */
export const TARGET_FORMS = 'smb://[[DOMAIN;]USER[:PASSWORD]@]HOST[:PORT]/SHARE[/PATH], //HOST[:PORT]/SHARE[/PATH] or \\\\HOST\\SHARE[\\PATH]';

/** TARGET of `watch` and `view`, which also take a folder of a cifs mount. */
export const LOCAL_TARGET_FORMS = `${TARGET_FORMS.replace(' or ', ', ')}, or a local path in a cifs/smb3 mount`;

/** What commander hands us for the shared options. */
export interface ConnectionCliOptions extends KerberosOptions {
  user?: string;
  /** -I: connect to this address; TARGET's host still names the server (UNC, cifs/HOST). */
  ipAddress?: string;
  authenticationFile?: string;
  /** false with -N / --no-pass. */
  pass?: boolean;
  port?: number;
  maxProtocol?: DialectName;
  protect?: Protection;
  /** Seconds. */
  timeout?: number;
}

const DIALECTS: Record<string, DialectName> = {
  SMB2_02: '2.0.2',
  '2.0.2': '2.0.2',
  '2.02': '2.0.2',
  SMB2_10: '2.1',
  '2.1': '2.1',
  '2.10': '2.1',
  SMB2: '2.1', // Samba: "SMB2" selects SMB2_10
  SMB3_00: '3.0',
  '3.0': '3.0',
  '3': '3.0',
  SMB3_02: '3.0.2',
  '3.0.2': '3.0.2',
  '3.02': '3.0.2',
  SMB3_11: '3.1.1',
  '3.1.1': '3.1.1',
  '3.11': '3.1.1',
  SMB3: '3.1.1', // Samba: "SMB3" selects the latest SMB3 dialect
};

/** `SMB3_11`, `3.1.1`, ... => DialectName. NT1/SMB1 and unknown names are usage errors. */
export function parseDialect(text: string): DialectName {
  const key = text.trim().toUpperCase();
  const d = DIALECTS[key];
  if (d) return d;
  if (['NT1', 'SMB1', 'CORE', 'COREPLUS', 'LANMAN1', 'LANMAN2', '1', '1.0'].includes(key)) {
    throw new InvalidArgumentError('SMB1 is not supported: use SMB2_02 or later.');
  }
  throw new InvalidArgumentError(
    'expected SMB2_02, SMB2_10, SMB3_00, SMB3_02, SMB3_11 (or 2.0.2, 2.1, 3.0, 3.0.2, 3.1.1).',
  );
}

export function parsePortOption(text: string): number {
  try {
    return parsePortNumber(text);
  } catch {
    throw new InvalidArgumentError('must be a number 1-65535.');
  }
}

export function parseTimeoutOption(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 86400) {
    throw new InvalidArgumentError('must be a number of seconds, more than 0 and at most 86400.');
  }
  return n;
}

/**
 * Add -U, -A, -N, -p, -m, --protect, --timeout to a subcommand. `watch` follows inotifywait, whose
 * -m is --monitor and -t --timeout: there the dialect option has no short form and the connect
 * timeout is --connect-timeout.
 */
export function addConnectionOptions(cmd: Command, variant: 'default' | 'watch' = 'default'): Command {
  const watch = variant === 'watch';
  return cmd
    .option('-U, --user <USER>', 'user name as [DOMAIN\\]USER[%PASSWORD], with optional domain and password (like smbclient)')
    .option('-A, --authentication-file <FILE>', 'credentials file with username=, password=, domain= lines (mode 600)')
    .option('-N, --no-pass', 'do not ask for a password: guest logon, or an empty password with a user name')
    .option('-k, --kerberos', 'log on with the Kerberos ticket (same as --use-kerberos=required)')
    .addOption(new Option('--use-kerberos <MODE>', 'Kerberos: required, desired (fall back to the password) or off').choices(['required', 'desired', 'off']))
    .option('--use-krb5-ccache <CCACHE>', 'Kerberos credential cache to use, e.g. FILE:/tmp/krb5cc_1000 or KCM: (default: KRB5CCNAME)')
    .option('-I, --ip-address <IP>', "connect to IP; TARGET's host still names the server (and the Kerberos principal cifs/HOST)", parseIpAddress)
    .option('-p, --port <PORT>', 'TCP port of targets that name none (default 445); a target naming another port is refused', parsePortOption)
    .option(`${watch ? '' : '-m, '}--max-protocol <DIALECT>`, 'highest dialect to offer: SMB2_02, SMB2_10, SMB3_00, SMB3_02, SMB3_11', parseDialect)
    .addOption(
      new Option('--protect <LEVEL>', 'least protection accepted: off, sign or encrypt (refused, never downgraded)')
        .choices(['off', 'sign', 'encrypt'])
        .default('off'),
    )
    .option(watch ? '--connect-timeout <SECONDS>' : '--timeout <SECONDS>', 'connect and request timeout', parseTimeoutOption, 15);
}

/** The tree type, wherever the client module defines it. */
export type SmbTree = Awaited<ReturnType<SmbClient['connectTree']>>;

/** Everything a command needs once connected. */
export interface Connected {
  target: Target;
  client: SmbClient;
  tree: SmbTree;
  context: ErrorContext;
}

export interface ConnectDeps {
  connect?: (opts: Parameters<typeof SmbClient.connect>[0]) => Promise<SmbClient>;
  credentialsIO?: Partial<CredentialsIO>;
}

/**
 * Parse TARGET, resolve credentials, connect, log on, connect the share, then run `body`.
 * The client is always closed afterwards. Failures are wrapped in CommandFailed with the host,
 * share and path, so describeError can name them.
 */
export async function withConnection<T>(
  command: string,
  targetText: string,
  opts: ConnectionCliOptions,
  body: (c: Connected) => Promise<T>,
  deps: ConnectDeps = {},
): Promise<T> {
  const context: ErrorContext = { command };
  let client: SmbClient | undefined;
  try {
    const target = parseTarget(targetText);
    const port = targetPort(target, opts.port);
    Object.assign(context, { host: target.host, port, share: target.share, path: target.path });
    const credentials: Credentials = await resolveLogon(opts, () =>
      resolveCredentials({ user: opts.user, authenticationFile: opts.authenticationFile, noPass: opts.pass === false }, target, deps.credentialsIO),
    );
    const protect = opts.protect ?? 'off';
    if (!['off', 'sign', 'encrypt'].includes(protect)) throw new UsageError(`bad --protect ${protect}`);
    const connect = deps.connect ?? ((o) => SmbClient.connect(o));
    const connectOptions: Parameters<typeof SmbClient.connect>[0] = {
      host: target.host,
      ...(opts.ipAddress ? { address: opts.ipAddress } : {}),
      port,
      credentials,
      protect,
      timeoutMs: Math.round((opts.timeout ?? 15) * 1000),
    };
    if (opts.maxProtocol) connectOptions.maxDialect = opts.maxProtocol;
    client = await connect(connectOptions);
    const tree = await client.connectTree(target.share);
    try {
      return await body({ target, client, tree, context });
    } finally {
      await tree.disconnect().catch(() => undefined);
    }
  } catch (err) {
    throw new CommandFailed(err, context);
  } finally {
    if (client) await client.close().catch(() => undefined);
  }
}

/** -I takes an address, as smbclient's does. */
function parseIpAddress(text: string): string {
  const address = ipAddressOf(text);
  if (address === null) throw new InvalidArgumentError(`-I takes an IPv4 or IPv6 address, not "${text}".`);
  return address;
}

/** A commander parser for a positive number (`integer`: a whole one) given for option `what`. */
export function parsePositive(what: string, integer: boolean) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new InvalidArgumentError(`${what} must be a positive number.`);
    return n;
  };
}

/**
 * `--format` and `--timefmt` of `watch` and `monitor`: an unknown directive (`%x` in --format, a
 * conversion strftime does not know in --timefmt) or a lone `%` at the end is a usage error, said
 * before connecting. The printer's module is loaded only when either option is given.
 */
export async function checkFormatOptions(opts: { format?: string; timefmt?: string }): Promise<void> {
  if (opts.format === undefined && opts.timefmt === undefined) return;
  const { formatProblem, FORMAT_DIRECTIVES, TIME_CONVERSIONS } = await import('../sinks/terminal.js');
  const format = opts.format === undefined ? undefined : formatProblem(opts.format, FORMAT_DIRECTIVES);
  if (format) throw new UsageError(`bad --format: ${format}`);
  const timefmt = opts.timefmt === undefined ? undefined : formatProblem(opts.timefmt, TIME_CONVERSIONS);
  if (timefmt) throw new UsageError(`bad --timefmt: ${timefmt}`);
}
