#!/usr/bin/env bash
# Builds the optional Kerberos addon (build/Release/gssapi.node): `npm run build:kerberos`. Needs
# MIT krb5's headers besides a C compiler; says which package is missing.
set -euo pipefail
here=$(dirname "$0")
# Debian's krb5-config runs the C compiler itself: without one, build-addon.sh says that (the
# packages it names include libkrb5-dev) rather than the headers being missing.
if command -v cc >/dev/null 2>&1 && { ! command -v krb5-config >/dev/null 2>&1 || [ ! -f "$(krb5-config --prefix)/include/gssapi/gssapi_ext.h" ]; }; then
  echo 'build:kerberos: MIT Kerberos headers missing: apt-get install libkrb5-dev, then npm run build:kerberos' >&2
  exit 1
fi
exec bash "$here/../build-addon.sh" "$here" build:kerberos 'build-essential libkrb5-dev python3'
