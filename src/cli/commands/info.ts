/** `smbnotify info TARGET`: what the server and share offer, and whether CHANGE_NOTIFY works. */
import type { Command } from 'commander';
import { formatInfo, infoJson } from '../format.js';
import { jsonLine } from '../../watch/safe-text.js';
import { targetPort } from '../../config/target.js';
import { addConnectionOptions, TARGET_FORMS, withConnection, type ConnectDeps, type ConnectionCliOptions } from '../options.js';

export interface InfoOptions extends ConnectionCliOptions {
  json?: boolean;
}

/** Where commands write their results (EPIPE-safe in main). */
export interface CommandIO extends ConnectDeps {
  out: (line: string) => void;
}

export async function runInfo(targetText: string, opts: InfoOptions, io: CommandIO): Promise<void> {
  await withConnection('info', targetText, opts, async ({ target, client, tree }) => {
    const notify = await tree.probeChangeNotify(target.path);
    const shown = { host: target.host, port: targetPort(target, opts.port), share: target.share, path: target.path };
    if (opts.json) io.out(jsonLine(infoJson(client.session, tree.info, notify, shown)));
    else io.out(formatInfo(client.session, tree.info, notify, shown));
  }, io);
}

export function registerInfo(program: Command, io: CommandIO): Command {
  const cmd = program
    .command('info')
    .description('show the dialect, signing, encryption and capabilities of a server and share, and whether change notification works')
    .argument('<TARGET>', TARGET_FORMS)
    .option('--json', 'print one JSON object');
  addConnectionOptions(cmd);
  cmd.action(async (target: string, opts: InfoOptions) => {
    await runInfo(target, opts, io);
  });
  return cmd;
}
