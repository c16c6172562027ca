// `smbnotify --help` and each command's `--help` against the README: every option a help text
// shows is documented, and the TARGET forms the help names are the ones the parser accepts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/program.js';
import { parseTarget } from '../../src/config/target.js';

const README = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
const COMMANDS = ['info', 'ls', 'watch', 'daemon', 'monitor', 'status', 'view', 'demo'];

async function help(args: string[], terminalColumns?: number): Promise<string> {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  if (terminalColumns !== undefined) Object.assign(sink, { isTTY: true, columns: terminalColumns });
  expect(await main(['node', 'smbnotify', ...args, '--help'], { stdout: sink, stderr: sink })).toBe(0);
  return text;
}

describe('help texts and the README', () => {
  it('the top-level help names every command', async () => {
    const text = await help([]);
    for (const command of COMMANDS) expect(text).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it.each(COMMANDS)('every option of `%s --help` is in the README', async (command) => {
    const text = await help([command]);
    const options = [...text.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]!).filter((o) => o !== '--help');
    expect(options.filter((o) => !new RegExp(`(?<![\\w-])${o}(?![\\w-])`).test(README))).toEqual([]);
  });

  it.each(COMMANDS)('`%s --help` fits an 80-column terminal (but for words that cannot be broken)', async (command) => {
    const text = await help([command], 80);
    // A longer line is an option or argument with one word too long to break, such as TARGET's URL form.
    expect(text.split('\n').filter((l) => l.length > 80 && !/^ +(\S+ +)?\S+$/.test(l))).toEqual([]);
  });

  it('the TARGET forms shown by info, ls, watch and view parse', async () => {
    for (const command of ['info', 'ls', 'watch', 'view']) {
      const line = (await help([command], 1000)).split('\n').find((l) => /^ {2}TARGET /.test(l))!;
      expect(line).toContain('smb://[[DOMAIN;]USER[:PASSWORD]@]HOST[:PORT]/SHARE[/PATH]');
      expect(line).toContain('//HOST[:PORT]/SHARE[/PATH]');
    }
    // Each optional part of those forms, present and absent.
    for (const t of ['smb://h/s', 'smb://u@h/s', 'smb://d;u:p@h:1445/s/p', '//h/s', '//h:1445/s/p', '\\\\h\\s\\p', '//[::1]:1445/s', '//::1/s']) {
      expect(() => parseTarget(t)).not.toThrow();
    }
  });
});
