#!/usr/bin/env bash
# Build (once) a Debian sid chroot holding Asterisk 22 for the switch tests.
#
# Idempotent: a finished chroot carries a stamp file and is reused as is; a chroot
# without the stamp (an interrupted build) is deleted and built again.
#
#   HOTLINE_ASTERISK_ROOT  where the chroot lives (default /var/cache/hotline/asterisk-sid)
#   HOTLINE_DEBIAN_MIRROR  Debian mirror for sid (default: the one apt uses here, else deb.debian.org)
#
# Needs root (debootstrap, chroot). Installs debootstrap with apt-get when missing.
# Prints the chroot path on the last line of stdout.
set -euo pipefail

ROOT="${HOTLINE_ASTERISK_ROOT:-/var/cache/hotline/asterisk-sid}"
STAMP="$ROOT/.hotline-chroot-ok"
STAMP_VERSION="1"   # bump to force a rebuild when the recipe below changes

log() { echo "[asterisk-chroot] $*" >&2; }

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_VERSION" && -x "$ROOT/usr/sbin/asterisk" ]]; then
    log "cached chroot at $ROOT"
    echo "$ROOT"
    exit 0
fi

if [[ "$(id -u)" != "0" ]]; then
    log "must run as root (debootstrap and chroot need it)"
    exit 1
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    log "debootstrap missing: apt-get update && apt-get install -y debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q debootstrap >&2
fi

pick_mirror() {
    if [[ -n "${HOTLINE_DEBIAN_MIRROR:-}" ]]; then echo "$HOTLINE_DEBIAN_MIRROR"; return; fi
    # Reuse the mirror this machine's apt is configured with (works behind a local mirror).
    local m
    m=$(grep -rhoE '^URIs:\s*\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -v security | head -n1 || true)
    if [[ -z "$m" ]]; then
        m=$(grep -hoE '^deb\s+(\[[^]]*\]\s+)?\S+' /etc/apt/sources.list 2>/dev/null \
            | awk '{print $NF}' | grep -v security | head -n1 || true)
    fi
    echo "${m:-http://deb.debian.org/debian}"
}
MIRROR="$(pick_mirror)"

if [[ -e "$ROOT" ]]; then
    log "removing unfinished chroot at $ROOT"
    # Unmount anything a previous run may have left mounted inside.
    grep -F " $ROOT/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l || true
    rm -rf --one-file-system "$ROOT"
fi
mkdir -p "$(dirname "$ROOT")"

log "debootstrap sid into $ROOT from $MIRROR (about a minute)"
start=$(date +%s)
debootstrap --variant=minbase --include=asterisk sid "$ROOT" "$MIRROR" >&2
log "debootstrap done in $(( $(date +%s) - start )) s"

# Asterisk runs as root in the chroot (asterisk -f without -U): give it its own dirs.
for d in etc/asterisk var/lib/asterisk var/spool/asterisk var/log/asterisk var/run/asterisk \
         run/asterisk usr/share/asterisk; do
    if [[ -e "$ROOT/$d" ]]; then chown -R root:root "$ROOT/$d"; fi
done
mkdir -p "$ROOT/var/spool/asterisk/monitor" "$ROOT/var/run/asterisk" "$ROOT/var/log/asterisk"

# Keep the packaged config for reference; the harness overwrites /etc/asterisk each start.
if [[ ! -d "$ROOT/etc/asterisk.dist" ]]; then
    cp -a "$ROOT/etc/asterisk" "$ROOT/etc/asterisk.dist"
fi

version=$(chroot "$ROOT" /usr/sbin/asterisk -V 2>/dev/null || true)
log "built: ${version:-asterisk version unknown}"
echo "$STAMP_VERSION" > "$STAMP"
echo "$ROOT"
