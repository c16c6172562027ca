#!/usr/bin/env bash
# Makes sure the system tools the integration tests drive are installed (run by `npm test`'s
# pretest). Silent when everything is present. When something is missing: installs it with apt
# when running as root (a fresh CI machine), else prints the exact command and fails: tests are
# never skipped silently.
set -euo pipefail

# smbd and friends live in sbin, which is not on a non-root user's PATH on Debian.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# Node: the project targets Node 20 (NodeNext ESM, fetch, test APIs).
node_major=$(node --version 2>/dev/null | sed -n 's/^v\([0-9][0-9]*\)\..*/\1/p')
if [ -z "$node_major" ] || [ "$node_major" -lt 20 ]; then
  echo "setup-system: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# tool:package pairs (Debian 12 package names).
tools=(
  smbd:samba
  pdbedit:samba
  smbstatus:samba
  smbclient:smbclient
  smbpasswd:samba-common-bin
  testparm:samba-common-bin
  dbus-daemon:dbus-daemon
  dbus-send:dbus-bin
  dbus-monitor:dbus-bin
  gdbus:libglib2.0-bin
  gio:libglib2.0-bin
  inotifywait:inotify-tools
  fusermount3:fuse3
  ps:procps
  pkill:procps
  mosquitto:mosquitto
  mosquitto_passwd:mosquitto
  mosquitto_sub:mosquitto-clients
  mosquitto_pub:mosquitto-clients
  openssl:openssl
  # Kerberos: the test domain controller, the client tools; and the build of the optional addons
  # (GSSAPI, FUSE passthrough).
  samba-tool:samba-common-bin
  winbindd:winbind
  kinit:krb5-user
  ktutil:krb5-user
  # A KCM credential cache daemon (Heimdal's; MIT's KCM client speaks its protocol, as SSSD's does).
  kcm:heimdal-kcm
  krb5-config:libkrb5-dev
  cc:build-essential
  make:build-essential
  python3:python3
)
missing_pkgs=()
missing_tools=()
for pair in "${tools[@]}"; do
  tool=${pair%%:*} pkg=${pair#*:}
  if ! command -v "$tool" >/dev/null 2>&1; then
    missing_tools+=("$tool")
    case " ${missing_pkgs[*]} " in *" $pkg "*) ;; *) missing_pkgs+=("$pkg") ;; esac
  fi
done

# Libraries and data without a command to look for: a file they install, and its package.
# Samba's VFS modules give the NAS set-ups (vfs_fruit + streams_xattr) the server tests use.
# The time zone data gives --timefmt's %Z (test/unit/strftime.test.ts compares it with date).
for pair in '/usr/lib/*/samba/vfs/fruit.so:samba-vfs-modules' '/usr/lib/*/samba/vfs/streams_xattr.so:samba-vfs-modules' '/usr/share/zoneinfo/Europe/Berlin:tzdata'; do
  pattern=${pair%%:*} pkg=${pair#*:}
  # shellcheck disable=SC2086 # the pattern is meant to glob
  if ! compgen -G $pattern >/dev/null; then
    missing_tools+=("$(basename "$pattern")")
    case " ${missing_pkgs[*]} " in *" $pkg "*) ;; *) missing_pkgs+=("$pkg") ;; esac
  fi
done

# Packages with no command of their own to look for: the AD DC parts of Samba, and nss_wrapper,
# which keeps the test DC's winbindd off the machine-wide socket.
for pkg in samba-ad-dc samba-ad-provision libnss-wrapper; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing_tools+=("$pkg")
    case " ${missing_pkgs[*]} " in *" $pkg "*) ;; *) missing_pkgs+=("$pkg") ;; esac
  fi
done

# systemd-analyze only verifies the shipped unit files offline; the systemd package is normally
# present even where systemd is not PID 1. Install it only as root, else just say so.
need_systemd=0
if ! command -v systemd-analyze >/dev/null 2>&1; then
  need_systemd=1
fi

[ ${#missing_pkgs[@]} -eq 0 ] && [ $need_systemd -eq 0 ] && exit 0

is_root=0
[ "$(id -u)" -eq 0 ] && is_root=1

if [ $need_systemd -eq 1 ]; then
  if [ $is_root -eq 1 ]; then
    missing_pkgs+=(systemd)
    missing_tools+=(systemd-analyze)
  else
    echo 'setup-system: systemd-analyze is missing: the systemd unit verification tests will fail;' \
      'install it with "sudo apt-get install -y --no-install-recommends systemd"' >&2
  fi
fi
[ ${#missing_pkgs[@]} -eq 0 ] && exit 0

if [ $is_root -eq 0 ]; then
  echo "setup-system: missing ${missing_tools[*]}. Install them with:" >&2
  echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing_pkgs[*]}" >&2
  echo "(or run npm test as root, which installs them)" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-system: missing ${missing_tools[*]} and no apt-get to install ${missing_pkgs[*]} with" >&2
  exit 1
fi

# Install the whole set in one go: it is what the tests need, and apt skips what is present.
pkgs=(samba smbclient dbus-daemon dbus-bin libglib2.0-bin)
for p in "${missing_pkgs[@]}"; do
  case " ${pkgs[*]} " in *" $p "*) ;; *) pkgs+=("$p") ;; esac
done
echo "setup-system: missing ${missing_tools[*]}; installing: ${pkgs[*]}" >&2
apt-get update >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >&2

still=()
for pair in "${tools[@]}"; do
  tool=${pair%%:*}
  command -v "$tool" >/dev/null 2>&1 || still+=("$tool")
done
if [ ${#still[@]} -gt 0 ]; then
  echo "setup-system: still missing after install: ${still[*]}" >&2
  exit 1
fi
echo "setup-system: installed ${pkgs[*]}" >&2
