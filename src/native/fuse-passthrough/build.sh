#!/usr/bin/env bash
# Builds the optional FUSE passthrough addon (build/Release/passthrough.node):
# `npm run build:passthrough`. It needs no library, only Linux's ioctl.
set -euo pipefail
here=$(dirname "$0")
exec bash "$here/../build-addon.sh" "$here" build:passthrough 'build-essential python3'
