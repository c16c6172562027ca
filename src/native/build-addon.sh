#!/usr/bin/env bash
# Builds one of smbnotify's optional native addons (DIR/build/Release/*.node) with node-gyp, which
# npm bundles and puts on PATH for `npm run`. Needs a C compiler; says which packages are missing
# instead of failing inside the compiler.
#   build-addon.sh DIR SCRIPT PACKAGES   (SCRIPT: the npm script that runs it, for the messages)
set -euo pipefail
dir=$1 script=$2 packages=$3
cd "$dir"
if ! command -v cc >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1; then
  echo "$script: no C compiler: apt-get install $packages, then npm run $script" >&2
  exit 1
fi
gyp=(node-gyp)
if ! command -v node-gyp >/dev/null 2>&1; then
  # Run outside npm: use the node-gyp that npm itself bundles.
  gyp=(node "$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js")
fi
# Node installed from a distribution or NodeSource ships its headers; use them instead of
# downloading (CI and this project's test machines have no internet beyond the package mirror).
prefix=$(node -p "require('node:path').resolve(process.execPath, '../..')")
args=()
[ -f "$prefix/include/node/node_api.h" ] && args+=("--nodedir=$prefix")
exec "${gyp[@]}" rebuild "${args[@]}" --loglevel=warn
