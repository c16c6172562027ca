// `node --import` this file to have every loaded module named on stderr (module-log-hooks.mjs).
import { register } from 'node:module';

register('./module-log-hooks.mjs', import.meta.url);
