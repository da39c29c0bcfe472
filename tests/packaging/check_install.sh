#!/usr/bin/env bash
# check_install.sh BUILD_DIR [COUNTS_FILE]: what `meson install` puts down, checked with the
# tools that read it. The man pages lint clean (mandoc -Tlint, warnings and worse); a DESTDIR
# install of BUILD_DIR succeeds; each systemd unit passes `systemd-analyze verify` (its
# ExecStart binary, its config and its man page taken from the DESTDIR copy) and
# `systemd-analyze security --offline` rates its exposure at most MAX_EXPOSURE (2.0).
# Prints one line per check; COUNTS_FILE gets "PASSED FAILED SKIPPED". Exits 1 if any failed.
set -u
build=$(cd "${1:?usage: check_install.sh BUILD_DIR [COUNTS_FILE]}" && pwd)
counts=${2:-}
top=$(cd "$(dirname "$0")/../.." && pwd)
max_exposure=${MAX_EXPOSURE:-2.0}
passed=0 failed=0 skipped=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAILED: $*"; failed=$((failed + 1)); }
skip() { echo "skipped: $*"; skipped=$((skipped + 1)); }
finish() {
    [ -n "$counts" ] && echo "$passed $failed $skipped" > "$counts"
    [ "$failed" = 0 ]
    exit $?
}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The man pages. Style notes (such as a page that refers to the other, not yet installed)
# are not failures; warnings and errors are.
for page in "$top"/docs/man/*.[1-8]; do
    name=$(basename "$page")
    if ! command -v mandoc > /dev/null; then
        skip "mandoc -Tlint $name (mandoc is not installed)"
    elif out=$(mandoc -Tlint -Wwarning "$page" 2>&1); then
        ok "mandoc -Tlint $name"
    else
        fail "mandoc -Tlint $name:"$'\n'"$out"
    fi
done

# The install, into a scratch root.
dest="$scratch/root"
if meson install -C "$build" --destdir "$dest" --no-rebuild --quiet > "$scratch/install.log" 2>&1; then
    ok "meson install --destdir"
else
    fail "meson install --destdir:"$'\n'"$(tail -20 "$scratch/install.log")"
    finish
fi

option() {
    /usr/bin/python3 -c 'import json, sys
for o in json.load(open(sys.argv[1] + "/meson-info/intro-buildoptions.json")):
    if o["name"] == sys.argv[2]:
        print(o["value"])' "$build" "$1"
}
prefix=$(option prefix)
abs() { case "$1" in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }
bindir=$(abs "$(option bindir)")
sysconfdir=$(abs "$(option sysconfdir)")
mandir=$(abs "$(option mandir)")

if ! command -v systemd-analyze > /dev/null; then
    skip "systemd-analyze verify and security (systemd is not installed)"
    finish
fi
units=$(find "$dest" -name '*.service' | sort)
[ -n "$units" ] || fail "no systemd unit installed"
for unit in $units; do
    name=$(basename "$unit")
    # The installed unit names the installed paths: point them into the scratch root, so
    # verify finds the binary (and man finds the page that Documentation= names).
    mkdir -p "$scratch/units"
    sed -e "s#$bindir/#$dest$bindir/#g" -e "s#$sysconfdir/#$dest$sysconfdir/#g" "$unit" \
        > "$scratch/units/$name"
    if out=$(MANPATH="$dest$mandir" systemd-analyze verify "$scratch/units/$name" 2>&1) &&
        [ -z "$out" ]; then
        ok "systemd-analyze verify $name"
    else
        fail "systemd-analyze verify $name:"$'\n'"$out"
    fi
    level=$(systemd-analyze security --offline=true "$scratch/units/$name" 2>&1 |
        sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    if [ -z "$level" ]; then
        fail "systemd-analyze security $name: no overall exposure level in its output"
    elif awk -v l="$level" -v m="$max_exposure" 'BEGIN { exit !(l <= m) }'; then
        ok "systemd-analyze security $name: exposure $level (at most $max_exposure)"
    else
        fail "systemd-analyze security $name: exposure $level, above $max_exposure"
        systemd-analyze security --offline=true "$scratch/units/$name" 2>&1 | grep '✗'
    fi
done
finish
