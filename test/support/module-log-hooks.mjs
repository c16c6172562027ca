// Module customization hooks (node --import ./module-log-register.mjs): every module the program
// loads, by URL, one line each on stderr, prefixed `module-loaded `.
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (!result.url.startsWith('node:')) process.stderr.write(`module-loaded ${result.url}\n`);
  return result;
}
