// `node --import` this file to have the process signal itself while it loads a given module
// (signal-on-load-hooks.mjs; SIGNAL_ON_LOAD names the module's specifier).
import { register } from 'node:module';

register('./signal-on-load-hooks.mjs', import.meta.url);
