#!/usr/bin/env bash
# Builds the optional addon of live views (build/Release/view.node): `npm run build:view`. It needs
# no library, only Linux's system calls.
set -euo pipefail
here=$(dirname "$0")
exec bash "$here/../build-addon.sh" "$here" build:view 'build-essential python3'
