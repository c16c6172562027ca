#!/usr/bin/env bash
# Builds the optional Kerberos addon (build/Release/gssapi.node) with node-gyp, which npm bundles
# and puts on PATH for `npm run build:kerberos`. Needs a C compiler and MIT krb5's headers; says
# which package is missing instead of failing inside the compiler.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v cc >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1; then
  echo 'build:kerberos: no C compiler: apt-get install build-essential libkrb5-dev python3, then npm run build:kerberos' >&2
  exit 1
fi
if ! command -v krb5-config >/dev/null 2>&1 || [ ! -f "$(krb5-config --prefix)/include/gssapi/gssapi_ext.h" ]; then
  echo 'build:kerberos: MIT Kerberos headers missing: apt-get install libkrb5-dev, then npm run build:kerberos' >&2
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
