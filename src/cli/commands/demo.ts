/** `smbnotify demo`: see the main job on this machine, with nothing to set up. */
import type { Command } from 'commander';
import type { DemoIO } from '../../demo/demo.js';
import { ExitStatus } from '../stop.js';

export function registerDemo(program: Command, io: DemoIO): void {
  program
    .command('demo')
    .description('start a throwaway Samba, a private D-Bus and the daemon; change files and show the events arrive everywhere; clean up')
    .action(async () => {
      const { runDemo } = await import('../../demo/demo.js');
      const status = await runDemo(io);
      if (status !== 0) throw new ExitStatus(status);
    });
}
