// Module customization hooks (node --import ./signal-on-load-register.mjs): the process sends
// itself SIGNAL_ON_LOAD_SIGNAL (default SIGHUP) when it first resolves the module specifier
// SIGNAL_ON_LOAD, i.e. while it loads that module: a signal at a known point of its start-up.
let sent = false;
export async function resolve(specifier, context, next) {
  if (!sent && specifier === process.env.SIGNAL_ON_LOAD) {
    sent = true;
    process.kill(process.pid, process.env.SIGNAL_ON_LOAD_SIGNAL || 'SIGHUP');
  }
  return next(specifier, context);
}
