#!/usr/bin/env bash
# Installs the optional native module usocket into test/.optional for the tests of a view mounted
# by an ordinary user (fusermount3 hands the /dev/fuse descriptor back over a Unix socket, and
# only usocket receives it). Kept out of the project's own node_modules on purpose: the rest of
# the suite (the D-Bus transport among it) must keep testing the code path without it, which is
# what a plain `npm install` gives users. Needs a C compiler (build-essential, python3).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .optional/node_modules/usocket/build/Release/uwrap.node ]; then exit 0; fi
mkdir -p .optional
# Build against the installed Node's headers, as src/native/gssapi/build.sh does, instead of
# letting node-gyp download them.
prefix=$(node -p "require('node:path').resolve(process.execPath, '../..')")
if [ -f "$prefix/include/node/node_api.h" ]; then export npm_config_nodedir="$prefix"; fi
npm install --prefix .optional --no-save --no-package-lock --no-audit --no-fund --loglevel=error 'usocket@^1.1.0'
test -f .optional/node_modules/usocket/build/Release/uwrap.node || {
  echo 'install-usocket: usocket did not build: apt-get install build-essential python3, then bash test/support/install-usocket.sh' >&2
  exit 1
}
