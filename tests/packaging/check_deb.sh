#!/usr/bin/env bash
# check_deb.sh [COUNTS_FILE]: the Debian packages, built and used as a person would. Builds
# them with `dpkg-buildpackage -b -us -uc` in a copy of the tree (so its build directories
# never meet the source's), runs lintian (errors fail; the rest is summed up), installs both
# with apt-get, checks that the files land where the units and man pages say, runs the
# installed programs, and purges the packages again, so the machine is left as it was found.
# Needs root (for the install); without it, everything is one skip. Prints one line per check;
# COUNTS_FILE gets "PASSED FAILED SKIPPED". Exits 1 if any check failed.
set -u
counts=${1:-}
top=$(cd "$(dirname "$0")/../.." && pwd)
passed=0 failed=0 skipped=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAILED: $*"; failed=$((failed + 1)); }
skip() { echo "skipped: $*"; skipped=$((skipped + 1)); }
check() { # check DESCRIPTION COMMAND...: ok if the command succeeds
    local what=$1
    shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}
installed=0
scratch=""
cleanup() {
    if [ "$installed" = 1 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq ngrnotokd ngrnotok < /dev/null \
            > /dev/null 2>&1 || dpkg --purge ngrnotokd ngrnotok > /dev/null 2>&1
    fi
    [ -n "$scratch" ] && rm -rf "$scratch"
}
finish() {
    cleanup
    installed=0
    scratch=""
    [ -n "$counts" ] && echo "$passed $failed $skipped" > "$counts"
    [ "$failed" = 0 ]
    exit $?
}
trap cleanup EXIT

if [ "$(id -u)" != 0 ]; then
    skip "Debian packages: installing them needs root"
    finish
fi
for pkg in ngrnotokd ngrnotok; do
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
        skip "Debian packages: $pkg is installed already, and is left alone"
        finish
    fi
done

# A copy of the tree without build directories, git data or caches.
scratch=$(mktemp -d)
mkdir "$scratch/ngrnotok"
tar -C "$top" --exclude='./build*' --exclude=./.git --exclude=__pycache__ \
    --exclude=.pytest_cache --exclude=./subprojects/packagecache -cf - . |
    tar -C "$scratch/ngrnotok" -xf -

start=$(date +%s)
if (cd "$scratch/ngrnotok" && DEB_BUILD_OPTIONS="parallel=$(nproc)" \
    dpkg-buildpackage -b -us -uc) > "$scratch/build.log" 2>&1; then
    ok "dpkg-buildpackage -b -us -uc ($(($(date +%s) - start)) s)"
else
    fail "dpkg-buildpackage -b -us -uc:"$'\n'"$(tail -40 "$scratch/build.log")"
    finish
fi
debs=""
for pkg in ngrnotokd ngrnotok; do
    deb=$(ls "$scratch"/"$pkg"_*.deb 2>/dev/null | head -1)
    check "binary package $pkg built" test -n "$deb"
    debs="$debs $deb"
done

lintian --fail-on error --tag-display-limit 0 "$scratch"/*.changes > "$scratch/lintian.log" 2>&1
lintian_rc=$?
grep -v 'running with root privileges' "$scratch/lintian.log"
summary=$(grep -o '^[EWIPX]:' "$scratch/lintian.log" | sort | uniq -c | awk '{ if (NR > 1) printf ", "; printf "%s %s", $1, $2 }')
if [ "$lintian_rc" = 0 ]; then
    ok "lintian: no errors (${summary:-no tags})"
else
    fail "lintian: errors (${summary:-exit status $lintian_rc})"
fi

if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $debs \
    < /dev/null > "$scratch/install.log" 2>&1; then
    installed=1
    ok "apt-get install ./ngrnotokd_*.deb ./ngrnotok_*.deb"
else
    installed=1 # whatever got in goes out again
    fail "apt-get install:"$'\n'"$(tail -20 "$scratch/install.log")"
    finish
fi

# Each package's files, and where its unit and man page say they are.
owns() { dpkg -L "$1" | grep -qx "$2" && [ -e "$2" ]; }
for pkg in ngrnotokd ngrnotok; do
    unit=/lib/systemd/system/$pkg.service
    check "$pkg ships $unit" owns "$pkg" "$unit"
    [ -f "$unit" ] || continue
    exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
    check "$pkg ships its unit's ExecStart binary ($exe)" owns "$pkg" "$exe"
    conf=$(grep -o '/etc/ngrnotok/[a-z]*\.conf' "$unit" | head -1)
    check "$pkg ships the config its unit reads ($conf) as a conffile" \
        sh -c "dpkg-query -W -f='\${Conffiles}' $pkg | grep -q ' $conf '"
    page=$(sed -n 's/^Documentation=man:\([a-z]*\)(\([0-9]\)).*/\1.\2/p' "$unit")
    section=${page##*.}
    check "$pkg ships the man page its unit names ($page)" \
        owns "$pkg" "/usr/share/man/man$section/$page.gz"
    check "man -w finds $page in $pkg's file" \
        sh -c "[ \"\$(man -w $section ${page%.*} 2>/dev/null)\" = /usr/share/man/man$section/$page.gz ]"
    if out=$(systemd-analyze verify "$unit" 2>&1) && [ -z "$out" ]; then
        ok "systemd-analyze verify $unit (installed)"
    else
        fail "systemd-analyze verify $unit:"$'\n'"$out"
    fi
    version=$(dpkg-query -W -f='${Version}' "$pkg")
    out=$("/usr/bin/$pkg" --version 2>&1)
    check "/usr/bin/$pkg --version says $version: $out" \
        sh -c "printf '%s\n' \"\$1\" | grep -q \"^$pkg ${version%%-*} \"" _ "$out"
done
state=$(systemctl is-enabled ngrnotokd.service 2>&1)
check "ngrnotokd.service is enabled by the package ($state)" test "$state" = enabled
state=$(systemctl is-enabled ngrnotok.service 2>&1)
check "ngrnotok.service is installed, not enabled ($state)" test "$state" = disabled
check "/etc/ngrnotok/ngrnotok.conf, which may hold a token, is root's alone" \
    test "$(stat -c %a:%U /etc/ngrnotok/ngrnotok.conf)" = 600:root
check "ngrnotok on PATH is the installed one" sh -c '[ "$(command -v ngrnotok)" = /usr/bin/ngrnotok ] && ngrnotok --version > /dev/null'
check "ngrnotok config check reads /etc/ngrnotok/ngrnotok.conf" \
    sh -c 'ngrnotok config check --config /etc/ngrnotok/ngrnotok.conf > /dev/null'

# The installed gateway on the installed config (listeners moved to free loopback ports):
# it starts, and a SIGTERM stops it with status 0.
run="$scratch/run"
mkdir -p "$run"
/usr/bin/ngrnotokd --config /etc/ngrnotok/ngrnotokd.conf --control-addr 127.0.0.1:0 \
    --http-addr 127.0.0.1:0 --admin-addr 127.0.0.1:0 --state-dir "$run/state" \
    --ports-file "$run/ports" > "$run/log" 2>&1 &
gw=$!
deadline=$(($(date +%s) + 20))
while [ ! -s "$run/ports" ] && kill -0 "$gw" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
    sleep 0.1 # polling the ports file, with a deadline
done
if [ -s "$run/ports" ]; then
    kill -TERM "$gw"
    wait "$gw"
    check "installed ngrnotokd runs on /etc/ngrnotok/ngrnotokd.conf and stops with 0 on SIGTERM" test "$?" = 0
else
    kill -KILL "$gw" 2>/dev/null
    wait "$gw" 2>/dev/null
    fail "installed ngrnotokd did not write its ports file within 20 s:"$'\n'"$(tail -20 "$run/log")"
fi

# And out again, leaving nothing behind.
if DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq ngrnotokd ngrnotok < /dev/null \
    > "$scratch/purge.log" 2>&1; then
    installed=0
    ok "apt-get purge ngrnotokd ngrnotok"
else
    fail "apt-get purge:"$'\n'"$(tail -20 "$scratch/purge.log")"
fi
check "nothing left: packages, /etc/ngrnotok, the unit's enablement" sh -c '
    ! dpkg-query -W -f="\${Status}\n" ngrnotokd ngrnotok 2>/dev/null | grep -q "ok installed" &&
    [ ! -e /etc/ngrnotok ] && [ ! -e /usr/bin/ngrnotokd ] &&
    [ ! -e /etc/systemd/system/multi-user.target.wants/ngrnotokd.service ]'
finish
