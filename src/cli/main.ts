#!/usr/bin/env node
/**
 * The `smbnotify` command's entry point. Until a process catches SIGHUP, the signal ends it: this
 * file loads early-signals.js (which holds a daemon's SIGHUP) before anything else, and the
 * command line itself (commander and the commands, program.ts) only after, by import(). What is
 * left unguarded is Node's own start-up.
 */
import './early-signals.js';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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
  const { runAsCommand } = await import('./program.js');
  runAsCommand();
}
