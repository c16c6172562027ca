/**
 * The `smbnotify` command line (main.ts, the entry point, loads it once SIGHUP is held).
 *
 * Error contract: every failure is ONE line `smbnotify: <what went wrong>` on stderr and exit
 * status 1; `--help` and `--version` exit 0. No stack traces, ever; passwords are never printed.
 * Writing to a closed pipe (`smbnotify ls ... | head`) ends output quietly.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerInfo, type CommandIO } from './commands/info.js';
import { registerLs } from './commands/ls.js';
import { registerWatch } from './commands/watch.js';
import { ExitStatus, SIGNAL_STATUS } from './stop.js';
import { Interrupted } from '../config/errors.js';
import { registerDaemon } from './commands/daemon.js';
import { registerMonitor } from './commands/monitor.js';
import { registerDemo } from './commands/demo.js';
import { registerView } from './commands/view.js';
import { CommandFailed, describeError, oneLine } from './errors.js';
import { threadsLeftBehind } from '../view/threads-left.js';
import { LineWriter } from './line-writer.js';
import { withoutPassword } from '../config/target.js';

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * The command line with every password it carries blanked by its position (the part after `%`
 * in `-U`/`--user`, the password of an smb:// URL), or null when it carries none. smbclient does
 * the same: /proc/PID/cmdline (ps) must not show a password for as long as a command runs.
 */
export function argvWithoutPasswords(argv: readonly string[]): string[] | null {
  let changed = false;
  const blankUser = (v: string): string => {
    const pct = v.indexOf('%');
    if (pct < 0 || pct === v.length - 1) return v;
    changed = true;
    return `${v.slice(0, pct + 1)}***`;
  };
  const out = argv.map((a, i) => {
    const prev = argv[i - 1];
    if (prev === '-U' || prev === '--user') return blankUser(a);
    if (a.startsWith('--user=')) return `--user=${blankUser(a.slice('--user='.length))}`;
    if (/^-[A-Za-z]*U./.test(a) && !a.startsWith('--')) {
      const at = a.indexOf('U') + 1;
      return a.slice(0, at) + blankUser(a.slice(at));
    }
    if (/^smb:\/\//i.test(a)) {
      const bare = withoutPassword(a);
      if (bare !== a) changed = true;
      return bare;
    }
    // --mqtt URL: refused with a password in it, and blanked here like the others meanwhile.
    const mqtt = /^((?:--mqtt=)?(?:mqtts?|wss?):\/\/[^/@:]*:)[^/@]*@/i.exec(a);
    if (mqtt) {
      changed = true;
      return `${mqtt[1]}***@${a.slice(mqtt[0].length)}`;
    }
    return a;
  });
  return changed ? out : null;
}

/** Commander's message, made one line and stripped of anything that may be a password. */
function commanderMessage(err: CommanderError): string {
  let msg = oneLine(err.message.replace(/^error:\s*/i, ''));
  if (err.code === 'commander.unknownOption' || err.code === 'commander.unknownCommand') {
    // The offending word is quoted whole: `--usr=alice%secret`, `-Ualice%secret`. Keep the
    // option name only.
    msg = msg.replace(/'([^']*)'/, (_m, word: string) => {
      if (word.startsWith('--')) return `'${word.replace(/=.*$/s, '=...')}'`;
      if (word.startsWith('-') && word.length > 2) return `'${word.slice(0, 2)}...'`;
      return `'${word}'`;
    });
  }
  return msg;
}

export interface MainIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Run the command line; resolves to the exit status. */
export async function main(argv: readonly string[] = process.argv, mainIO?: Partial<MainIO>): Promise<number> {
  const stdout = mainIO?.stdout ?? process.stdout;
  const stderr = mainIO?.stderr ?? process.stderr;
  let stdoutClosed = false;
  const lines = new LineWriter(stdout);
  const outputClosedListeners: Array<() => void> = [];
  stdout.on('error', (err: NodeJS.ErrnoException) => {
    // A closed pipe: the reader has what it wanted. Anything else: stop writing too. Either
    // way a long-running command (watch, monitor) ends: nobody reads what it would print.
    if (stdoutClosed) return;
    stdoutClosed = true;
    lines.close();
    if (err.code !== 'EPIPE') {
      stderr.write(`smbnotify: cannot write output: ${oneLine(err.message)}\n`);
    }
    for (const cb of outputClosedListeners.splice(0)) cb();
  });
  const writeOut = (s: string): void => {
    if (!stdoutClosed) lines.write(s);
  };
  const fail = (line: string): number => {
    // Messages are built without secrets (targets are shown without their password): nothing
    // is masked afterwards, which would garble words that happen to contain the password.
    stderr.write(`smbnotify: ${oneLine(line)}\n`);
    return 1;
  };

  const io: CommandIO = {
    out: (line) => writeOut(`${line}\n`),
  };

  const program = new Command();
  program
    .name('smbnotify')
    .description('SMB2/3 change notification for Linux: list, inspect and watch SMB shares')
    .version(readVersion(), '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .configureOutput({
      writeOut,
      // Help is wrapped to the terminal's width, or 80 columns into a pipe (commander asks
      // process.stdout, which may not be ours).
      getOutHelpWidth: () => ((stdout as NodeJS.WriteStream).isTTY ? (stdout as NodeJS.WriteStream).columns : 80),
      // Help written because of an error (no command given) is replaced by one line below.
      writeErr: () => undefined,
      outputError: () => undefined,
    })
    .showSuggestionAfterError(true)
    .addHelpText('after', `
Credentials (smbclient conventions): -U [DOMAIN\\]USER[%PASSWORD], -A FILE (mode 600), the
PASSWD environment variable, -N for guest; otherwise a password prompt on the terminal.
Every error is one line on stderr and exit status 1.`);

  registerInfo(program, io);
  registerLs(program, io);
  const withErr = {
    ...io,
    err: (line: string) => void stderr.write(`${line}\n`),
    onOutputClosed: (cb: () => void) => {
      if (stdoutClosed) queueMicrotask(cb);
      else outputClosedListeners.push(cb);
    },
  };
  registerWatch(program, withErr);
  registerDaemon(program, withErr, readVersion());
  registerMonitor(program, withErr);
  registerView(program, withErr);
  registerDemo(program, withErr);

  const status = await run(program, argv, fail);
  // Lines still waiting for a slow reader go out before the status does.
  await lines.idle();
  return status;
}

async function run(program: Command, argv: readonly string[], fail: (line: string) => number): Promise<number> {
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (err) {
    if (err instanceof ExitStatus) return err.status;
    if (err instanceof Interrupted || (err instanceof CommandFailed && err.original instanceof Interrupted)) return SIGNAL_STATUS.SIGINT;
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0;
      if (err.code === 'commander.help' || err.code === 'commander.executeSubCommandAsync') {
        return fail('missing command: use "smbnotify info TARGET", "smbnotify ls TARGET", "smbnotify watch TARGET" or "smbnotify --help"');
      }
      return fail(commanderMessage(err));
    }
    return fail(describeError(err));
  }
}

/** Last resort: one line, exit 1. */
function installProcessHandlers(): void {
  const last = (err: unknown): void => {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'EPIPE') process.exit(0);
    try {
      process.stderr.write(`smbnotify: ${describeError(err)}\n`);
    } catch {
      /* nothing left to tell */
    }
    process.exit(1);
  };
  process.on('uncaughtException', last);
  process.on('unhandledRejection', last);
}

/** What main.ts does when run as the command: the process's own life around main(). */
export function runAsCommand(): void {
  // First thing: a password given on the command line leaves /proc/PID/cmdline (ps).
  const blanked = argvWithoutPasswords(process.argv);
  if (blanked) process.title = blanked.join(' ');
  installProcessHandlers();
  void main().then((code) => {
    // Let buffered output reach a pipe before leaving; a closed pipe does not hold us back.
    if (process.stdout.writableLength === 0 || process.stdout.destroyed) exit(code);
    else process.stdout.write('', () => exit(code));
  });
}

/**
 * process.exit, unless a view left a thread blocked in a call on its (stalled) backing folder:
 * Node would wait for that thread forever, so the process ends by SIGTERM instead (status 143).
 */
function exit(code: number): void {
  if (threadsLeftBehind() === 0) process.exit(code);
  process.stderr.write('smbnotify: a call on a view\'s backing folder is still blocked; ending by SIGTERM rather than waiting for it\n', () => {
    process.removeAllListeners('SIGTERM');
    process.kill(process.pid, 'SIGTERM');
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), 2000);
  });
}
