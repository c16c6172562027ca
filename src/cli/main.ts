#!/usr/bin/env node
/**
 * The `smbnotify` command.
 *
 * Error contract: every failure is ONE line `smbnotify: <what went wrong>` on stderr and exit
 * status 1; `--help` and `--version` exit 0. No stack traces, ever; passwords are never printed.
 * Writing to a closed pipe (`smbnotify ls ... | head`) ends output quietly.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { registerInfo, type CommandIO } from './commands/info.js';
import { registerLs } from './commands/ls.js';
import { registerWatch } from './commands/watch.js';
import { ExitStatus } from './stop.js';
import { registerDaemon } from './commands/daemon.js';
import { registerMonitor } from './commands/monitor.js';
import { registerDemo } from './commands/demo.js';
import { registerView } from './commands/view.js';
import { describeError, oneLine, redact } from './errors.js';
import { parseTarget } from '../config/target.js';

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Passwords visible on the command line, found before parsing so that no message shows them. */
export function secretsInArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  const fromUser = (v: string | undefined): void => {
    if (v === undefined) return;
    const pct = v.indexOf('%');
    if (pct >= 0 && pct < v.length - 1) out.push(v.slice(pct + 1));
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-U' || a === '--user') fromUser(argv[i + 1]);
    else if (a.startsWith('--user=')) fromUser(a.slice('--user='.length));
    else if (/^-[A-Za-z]*U./.test(a) && !a.startsWith('--')) fromUser(a.slice(a.indexOf('U') + 1));
    if (/^smb:\/\//i.test(a)) {
      try {
        const t = parseTarget(a);
        if (t.password) out.push(t.password);
      } catch {
        /* redact() still masks the URL form */
      }
    }
    // --mqtt URL: refused with a password in it, but no other message may show it either.
    const mqttUrl = /^(?:--mqtt=)?((?:mqtts?|wss?):\/\/.*)$/i.exec(a)?.[1];
    if (mqttUrl) {
      try {
        const pw = new URL(mqttUrl).password;
        if (pw) out.push(pw, decodeURIComponent(pw));
      } catch {
        /* malformed: checkMqttUrl says so without repeating it */
      }
    }
  }
  return out;
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
  env: Record<string, string | undefined>;
}

/** Run the command line; resolves to the exit status. */
export async function main(argv: readonly string[] = process.argv, mainIO?: Partial<MainIO>): Promise<number> {
  const stdout = mainIO?.stdout ?? process.stdout;
  const stderr = mainIO?.stderr ?? process.stderr;
  const env = mainIO?.env ?? process.env;
  const secrets = new Set<string>(secretsInArgv(argv.slice(2)));
  if (env['PASSWD']) secrets.add(env['PASSWD']);

  let stdoutClosed = false;
  const outputClosedListeners: Array<() => void> = [];
  stdout.on('error', (err: NodeJS.ErrnoException) => {
    // A closed pipe: the reader has what it wanted. Anything else: stop writing too. Either
    // way a long-running command (watch, monitor) ends: nobody reads what it would print.
    if (stdoutClosed) return;
    stdoutClosed = true;
    if (err.code !== 'EPIPE') {
      stderr.write(`smbnotify: cannot write output: ${oneLine(err.message)}\n`);
    }
    for (const cb of outputClosedListeners.splice(0)) cb();
  });
  const writeOut = (s: string): void => {
    if (!stdoutClosed) stdout.write(s);
  };
  const fail = (line: string): number => {
    stderr.write(`smbnotify: ${redact(oneLine(line), secrets)}\n`);
    return 1;
  };

  const io: CommandIO = {
    out: (line) => writeOut(`${line}\n`),
    onSecret: (s) => secrets.add(s),
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
    err: (line: string) => void stderr.write(`${redact(line, secrets)}\n`),
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

  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (err) {
    if (err instanceof ExitStatus) return err.status;
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
    const secrets = secretsInArgv(process.argv.slice(2));
    if (process.env['PASSWD']) secrets.push(process.env['PASSWD']);
    try {
      process.stderr.write(`smbnotify: ${redact(describeError(err), secrets)}\n`);
    } catch {
      /* nothing left to tell */
    }
    process.exit(1);
  };
  process.on('uncaughtException', last);
  process.on('unhandledRejection', last);
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  installProcessHandlers();
  void main().then((code) => {
    // Let buffered output reach a pipe before leaving; a closed pipe does not hold us back.
    if (process.stdout.writableLength === 0 || process.stdout.destroyed) process.exit(code);
    process.stdout.write('', () => process.exit(code));
  });
}
