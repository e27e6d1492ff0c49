#!/bin/bash
# check-package.sh - install the relay .deb into a throwaway Debian root and
# check what an admin would see.
#
# usage: tests/package/check-package.sh [--deb FILE] [--server-deb FILE]
#                                       [--root DIR] [--keep]
#
#   --deb FILE  the relay .deb to test; default: build one from this tree
#               (dpkg-buildpackage -us -uc -b, DEB_BUILD_OPTIONS=nocheck,
#               in a temporary copy)
#   --server-deb FILE
#               the relay-server .deb; default: the one built with the
#               relay .deb when this script builds it, else none (the
#               server checks are left out)
#   --root DIR  where to create the root (default: a temporary directory);
#               an existing root made by an earlier --keep run is reused
#   --keep      leave the root in place afterwards
#
# Needs root, debootstrap, and the Debian mirror of /etc/apt/sources.list
# (MIRROR=... overrides it). Takes about 3-5 minutes: debootstrap
# --variant=minbase bookworm is most of it.
#
# What it checks, in the root:
#   install: users and groups, set-gid bit through dpkg-statoverride, the
#     sendmail/mailq/newaliases links, spool owners and modes, conffiles,
#     enabled units; bsd-mailx and s-nail install without pulling another
#     MTA (Provides: mail-transport-agent)
#   use: an unprivileged user's sendmail, mail (bsd-mailx) and s-nail
#     queue mail into maildrop/; that user cannot list the queue; the
#     relay user's flush picks it up; root sees it with mailq;
#     relay-notify writes a proper failure report and refuses bad names
#   upgrade (reinstall) keeps the queue; remove keeps it; purge removes the
#     spool, the configuration, the users and groups, the statoverride.
#   relay-server: installing it over relay removes relay; the same users,
#     set-gid bit and spool; relay-serve.service is enabled; relay serve,
#     started as root with the unit's capability bounding set and
#     no_new_privs on a free loopback port, drops to the relay user,
#     greets, queues a message, survives SIGHUP and exits 0 on SIGTERM;
#     purge removes what it created.
# It prints one line per check and "N passed, N failed" at the end; the
# exit status is 0 only when every check passed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
deb=
server_deb=
root=
keep=0
while [ $# -gt 0 ]; do
    case $1 in
    --deb) deb=$2; shift 2 ;;
    --server-deb) server_deb=$2; shift 2 ;;
    --root) root=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,41p' "$0"; exit 0 ;;
    *) echo "check-package: unknown argument $1" >&2; exit 64 ;;
    esac
done

if [ "$(id -u)" != 0 ]; then
    echo "check-package: must run as root (debootstrap, chroot)" >&2
    exit 77
fi
for tool in debootstrap dpkg-deb chroot; do
    command -v "$tool" >/dev/null || { echo "check-package: $tool is missing" >&2; exit 69; }
done

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
    local what=$1
    shift
    if "$@" >/dev/null; then ok "$what"; else fail "$what"; fi
}
# logged COMMAND...: run it with its output appended to the apt log.
logged() { "$@" >>"$work/apt.log" 2>&1; }

work=$(mktemp -d /var/tmp/relay-check.XXXXXX)
mounted=()
serve_pid=
cleanup() {
    local m
    if [ -n "$serve_pid" ]; then kill -KILL "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null; fi
    for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
    if [ "$keep" = 0 ] && [ -n "$root" ] && [ "$root" = "$work/root" ]; then
        rm -rf --one-file-system "$work"
    else
        rm -rf --one-file-system "$work/build"
        [ "$keep" = 1 ] && echo "check-package: root kept in $root"
    fi
}
trap cleanup EXIT

# --- the package -----------------------------------------------------------
if [ -z "$deb" ]; then
    echo "check-package: building the package"
    mkdir -p "$work/build/relay"
    if [ -d "$top/.git" ] || [ -f "$top/.git" ]; then
        (cd "$top" && git ls-files -co --exclude-standard) | grep -v -e '^build' -e '^obj-' |
            (cd "$top" && tar -cf - -T -) | tar -xf - -C "$work/build/relay"
    else
        (cd "$top" && tar --exclude='./build*' --exclude='./obj-*' -cf - .) | tar -xf - -C "$work/build/relay"
    fi
    start=$(date +%s)
    if ! (cd "$work/build/relay" &&
        DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
        tail -40 "$work/build.log"
        echo "check-package: the package build failed" >&2
        exit 1
    fi
    echo "check-package: package built in $(($(date +%s) - start)) s"
    deb=$(ls "$work"/build/relay_*_*.deb | head -1)
    [ -n "$server_deb" ] || server_deb=$(ls "$work"/build/relay-server_*_*.deb 2>/dev/null | head -1)
fi
[ -f "$deb" ] || { echo "check-package: no such .deb: $deb" >&2; exit 66; }
deb=$(readlink -f "$deb")
if [ -n "$server_deb" ]; then
    [ -f "$server_deb" ] || { echo "check-package: no such .deb: $server_deb" >&2; exit 66; }
    server_deb=$(readlink -f "$server_deb")
fi

# --- the root --------------------------------------------------------------
mirror=${MIRROR:-}
if [ -z "$mirror" ]; then
    mirror=$(grep -hs -E '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources | grep -o -E 'https?://[^ ]*/debian/?$' | head -1)
    mirror=${mirror:-http://deb.debian.org/debian}
fi
[ -n "$root" ] || root=$work/root
if [ ! -x "$root/usr/bin/apt-get" ]; then
    echo "check-package: debootstrap --variant=minbase bookworm from $mirror"
    start=$(date +%s)
    if ! debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
        tail -20 "$work/debootstrap.log"
        echo "check-package: debootstrap failed" >&2
        exit 1
    fi
    echo "check-package: root made in $(($(date +%s) - start)) s"
fi
mount -t proc proc "$root/proc" && mounted+=("$root/proc")
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
# No service starts inside the root.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }
# as USER CMD...: run as USER with that user's groups; no_new_privs is off,
# so the set-gid bit of /usr/sbin/relay takes effect.
as() {
    local user=$1
    shift
    in_root setpriv --reuid="$user" --regid="$user" --init-groups "$@"
}
apt_in_root() { in_root env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0 "$@"; }

cp "$deb" "$root/tmp/relay.deb"
echo "check-package: installing $(basename "$deb")"
apt_in_root update >"$work/apt.log" 2>&1 || { tail -20 "$work/apt.log"; exit 1; }
check "apt-get install relay.deb" logged apt_in_root install --no-install-recommends /tmp/relay.deb

# --- after installation ----------------------------------------------------
stat_of() { in_root stat -c "$1" "$2" 2>/dev/null; }
check "relay is installed" test "$(in_root dpkg-query -W -f='${Status}' relay)" = "install ok installed"
check "/usr/sbin/relay is root:relaydrop 2755" test "$(stat_of '%U:%G %a' /usr/sbin/relay)" = "root:relaydrop 2755"
check "the statoverride is registered" test "$(in_root dpkg-statoverride --list /usr/sbin/relay)" = "root relaydrop 2755 /usr/sbin/relay"
check "/usr/sbin/sendmail -> relay" test "$(in_root readlink /usr/sbin/sendmail)" = relay
check "/usr/lib/sendmail -> ../sbin/relay" test "$(in_root readlink /usr/lib/sendmail)" = ../sbin/relay
check "/usr/bin/mailq -> ../sbin/relay" test "$(in_root readlink /usr/bin/mailq)" = ../sbin/relay
check "/usr/bin/newaliases -> ../sbin/relay" test "$(in_root readlink /usr/bin/newaliases)" = ../sbin/relay
pw=$(in_root getent passwd relay)
check "user relay: home /var/spool/relay, shell nologin" \
    test "$(echo "$pw" | cut -d: -f6,7)" = "/var/spool/relay:/usr/sbin/nologin"
check "user relay is a system user" test "$(echo "$pw" | cut -d: -f3)" -lt 1000
check "group relaydrop exists" in_root getent group relaydrop
check "relay is not in relaydrop" sh -c "! chroot '$root' id -nG relay | grep -qw relaydrop"
check "spool is relay, 0755" test "$(stat_of '%U %a' /var/spool/relay)" = "relay 755"
check "maildrop is relay:relaydrop 1770" test "$(stat_of '%U:%G %a' /var/spool/relay/maildrop)" = "relay:relaydrop 1770"
for d in incoming queue hold corrupt purge; do
    check "$d is relay 0700" test "$(stat_of '%U %a' /var/spool/relay/$d)" = "relay 700"
done
conffiles=$(in_root dpkg-query -W -f='${Conffiles}' relay)
check "relay.toml is a conffile" grep -q '/etc/relay/relay.toml' <<<"$conffiles"
check "notify.conf is a conffile" grep -q '/etc/relay/notify.conf' <<<"$conffiles"
check "relay check accepts the shipped relay.toml" in_root setpriv --no-new-privs relay check
check "relay-flush.timer is enabled" test -L "$root/etc/systemd/system/timers.target.wants/relay-flush.timer"
check "relay-flush.path is enabled" test -L "$root/etc/systemd/system/paths.target.wants/relay-flush.path"
check "sysusers.d file installed" test -f "$root/usr/lib/sysusers.d/relay.conf"
check "relay.8 is installed" test -f "$root/usr/share/man/man8/relay.8.gz"

# --- mail programs -----------------------------------------------------------
check "bsd-mailx and s-nail install" logged apt_in_root install --no-install-recommends bsd-mailx s-nail
check "no other MTA was pulled in" sh -c "! chroot '$root' dpkg-query -W -f='\${Package} \${Status}\n' \
    exim4-daemon-light postfix nullmailer dma 2>/dev/null | grep -q 'ok installed'"
check "relay still installed" test "$(in_root dpkg-query -W -f='${Status}' relay)" = "install ok installed"

in_root useradd -m -s /bin/sh alice 2>/dev/null || true
count_maildrop() { in_root find /var/spool/relay/maildrop -maxdepth 1 -type f ! -name 't.*' | wc -l; }
n0=$(count_maildrop)
check "alice: sendmail -i queues (exit 0)" sh -c "printf 'Subject: one\n\nhello\n' |
    chroot '$root' setpriv --reuid=alice --regid=alice --init-groups /usr/sbin/sendmail -i bob@example.org"
check "alice: mail (bsd-mailx) queues" sh -c "echo body | chroot '$root' setpriv --reuid=alice \
    --regid=alice --init-groups /usr/bin/bsd-mailx -s 'via mailx' bob@example.org"
check "alice: s-nail queues" sh -c "echo body | chroot '$root' setpriv --reuid=alice --regid=alice \
    --init-groups env HOME=/home/alice /usr/bin/s-nail -s 'via s-nail' bob@example.org"
n1=$(count_maildrop)
check "three submissions in maildrop ($n0 -> $n1)" test "$((n1 - n0))" = 3
check "submissions are owned by alice" sh -c "chroot '$root' find /var/spool/relay/maildrop -type f \
    ! -user alice | grep -q . && exit 1 || exit 0"
as alice /usr/bin/mailq >/dev/null 2>&1
check "alice cannot list the queue (77)" test $? = 77
check "alice cannot read the queue directory" sh -c "! chroot '$root' setpriv --reuid=alice \
    --regid=alice --init-groups ls /var/spool/relay/queue >/dev/null 2>&1"

check "relay --flush as the relay user (NoNewPrivileges, as the unit)" \
    in_root setpriv --reuid=relay --regid=relay --clear-groups --no-new-privs /usr/sbin/relay --flush
check "maildrop is empty after the flush" test "$(count_maildrop)" = 0
queued=$(in_root find /var/spool/relay/queue -mindepth 1 -maxdepth 1 -type d | wc -l)
check "three entries in queue/ ($queued)" test "$queued" = 3
mq=$(in_root setpriv --no-new-privs /usr/bin/mailq 2>&1)
check "root's mailq lists 3 requests" grep -q -- '-- .* Kbytes in 3 Requests\.$' <<<"$mq"
check "mailq names the sender alice" grep -q ' alice@' <<<"$mq"
check "mailq names the recipient bob" grep -q ' bob@example.org$' <<<"$mq"

# --- relay-notify -------------------------------------------------------------
in_root /usr/lib/relay/relay-notify '$(touch /tmp/pwned)' 2>/dev/null
check "relay-notify refuses a unit name with shell syntax (64)" test $? = 64
check "... and ran nothing" test ! -e "$root/tmp/pwned"
in_root /usr/lib/relay/relay-notify -h 2>/dev/null
check "relay-notify refuses a name starting with - (64)" test $? = 64
printf 'to = ops@example.net\n' >"$root/etc/relay/notify.conf"
check "relay-notify as the relay user (as the unit runs it)" \
    in_root setpriv --reuid=relay --regid=relay --clear-groups --no-new-privs \
    /usr/lib/relay/relay-notify cron.service
# Not set-gid there, the submission also started a flush of its own:
# run one more and wait until maildrop/ is empty.
for _ in $(seq 50); do
    in_root setpriv --reuid=relay --regid=relay --clear-groups --no-new-privs /usr/sbin/relay --flush --quiet
    [ "$(count_maildrop)" = 0 ] && break
    sleep 0.2
done
report=$(in_root sh -c 'cat /var/spool/relay/queue/*/message' 2>/dev/null)
check "report: Subject [host] unit cron.service failed" grep -q "^Subject: \[.*\] unit cron.service failed" <<<"$report"
check "report: Auto-Submitted: auto-generated" grep -q "^Auto-Submitted: auto-generated" <<<"$report"
check "report: Content-Type text/plain; charset=UTF-8" grep -q "^Content-Type: text/plain; charset=UTF-8" <<<"$report"
check "report: To from notify.conf" grep -q "^To: ops@example.net" <<<"$report"

# --- upgrade, remove, purge ---------------------------------------------------
before=$(in_root find /var/spool/relay/queue -mindepth 1 -maxdepth 1 -type d | sort)
check "reinstall (upgrade path)" logged apt_in_root install --reinstall /tmp/relay.deb
after=$(in_root find /var/spool/relay/queue -mindepth 1 -maxdepth 1 -type d | sort)
check "the upgrade keeps the queue" test "$before" = "$after" -a -n "$after"
check "the upgrade keeps the set-gid bit" test "$(stat_of '%G %a' /usr/sbin/relay)" = "relaydrop 2755"
check "the upgrade keeps the changed conffile" grep -q '^to = ops@example.net' "$root/etc/relay/notify.conf"
check "remove" logged apt_in_root remove relay bsd-mailx
check "remove keeps the queue" test -n "$(in_root find /var/spool/relay/queue -mindepth 1 -maxdepth 1 -type d)"
check "remove keeps the user" in_root getent passwd relay
check "purge" logged apt_in_root purge relay
check "purge removes the spool" test ! -e "$root/var/spool/relay"
check "purge removes /etc/relay" test ! -e "$root/etc/relay"
check "purge removes user relay" sh -c "! chroot '$root' getent passwd relay"
check "purge removes group relay" sh -c "! chroot '$root' getent group relay"
check "purge removes group relaydrop" sh -c "! chroot '$root' getent group relaydrop"
check "purge removes the statoverride" sh -c "! chroot '$root' dpkg-statoverride --list /usr/sbin/relay | grep -q ."
check "purge removes /usr/sbin/sendmail" test ! -e "$root/usr/sbin/sendmail" -a ! -L "$root/usr/sbin/sendmail"
check "purge removes the unit links" sh -c "! ls '$root'/etc/systemd/system/*.wants/relay-* 2>/dev/null | grep -q ."

# --- relay-server ----------------------------------------------------------------
if [ -n "$server_deb" ]; then
    cp "$server_deb" "$root/tmp/relay-server.deb"
    echo "check-package: installing $(basename "$server_deb") over relay"
    check "install relay.deb again" logged apt_in_root install --no-install-recommends /tmp/relay.deb
    check "apt-get install relay-server.deb (removes relay)" \
        logged apt_in_root install --no-install-recommends /tmp/relay-server.deb
    check "relay-server is installed" \
        test "$(in_root dpkg-query -W -f='${Status}' relay-server)" = "install ok installed"
    check "relay is no longer installed" \
        sh -c "! chroot '$root' dpkg-query -W -f='\${Status}' relay | grep -q 'ok installed'"
    check "server: /usr/sbin/relay is root:relaydrop 2755" \
        test "$(stat_of '%U:%G %a' /usr/sbin/relay)" = "root:relaydrop 2755"
    check "server: the statoverride is registered" \
        test "$(in_root dpkg-statoverride --list /usr/sbin/relay)" = "root relaydrop 2755 /usr/sbin/relay"
    check "server: /usr/sbin/sendmail -> relay" test "$(in_root readlink /usr/sbin/sendmail)" = relay
    check "server: user relay and group relaydrop exist" \
        sh -c "chroot '$root' getent passwd relay >/dev/null && chroot '$root' getent group relaydrop >/dev/null"
    check "server: maildrop is relay:relaydrop 1770" \
        test "$(stat_of '%U:%G %a' /var/spool/relay/maildrop)" = "relay:relaydrop 1770"
    check "server: relay.toml is a conffile" \
        grep -q '/etc/relay/relay.toml' <<<"$(in_root dpkg-query -W -f='${Conffiles}' relay-server)"
    check "relay-serve.service is enabled" \
        test -L "$root/etc/systemd/system/multi-user.target.wants/relay-serve.service"
    check "server: relay-flush.timer is enabled" \
        test -L "$root/etc/systemd/system/timers.target.wants/relay-flush.timer"
    check "relay-serve.8 is installed" test -f "$root/usr/share/man/man8/relay-serve.8.gz"
    check "relay serve --check accepts the shipped relay.toml" \
        in_root setpriv --no-new-privs /usr/sbin/relay serve --check

    # The server as the unit runs it: root, no_new_privs, the unit's
    # CapabilityBoundingSet; a free loopback port instead of 25.
    port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    printf '%s\n' 'myhostname = "check.example.net"' '[server]' \
        "listen = [\"local 127.0.0.1:$port\"]" 'user = "relay"' >"$root/etc/relay/serve-check.toml"
    caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$root/lib/systemd/system/relay-serve.service" |
        tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
    check "the unit's capability set ($caps)" test -n "$caps"
    n0=$(in_root find /var/spool/relay/maildrop /var/spool/relay/queue -mindepth 1 -maxdepth 1 | wc -l)
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
        setpriv --no-new-privs --bounding-set="-all,$caps" \
        /usr/sbin/relay -C /etc/relay/serve-check.toml serve >"$work/serve.log" 2>&1 &
    serve_pid=$!
    smtp_probe() {
        /usr/bin/python3 - "$port" <<'PY'
import smtplib, sys, time
port = int(sys.argv[1])
s = smtplib.SMTP(timeout=10)
for _ in range(100):
    try:
        code, banner = s.connect("127.0.0.1", port)
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("no listener on port %d" % port)
print("greeting:", code, banner.decode())
s.sendmail("alice@example.org", ["bob@example.org"], b"Subject: via relay serve\r\n\r\nhello\r\n")
s.quit()
print("sent")
PY
    }
    probe=$(smtp_probe 2>&1)
    echo "$probe" | sed 's/^/check-package: smtp: /'
    check "relay serve greets with 220 ESMTP" grep -q '^greeting: 220 check.example.net ESMTP relay$' <<<"$probe"
    check "relay serve accepts a message" grep -q '^sent$' <<<"$probe"
    serve_uid=$(awk '/^Uid:/ { print $2 }' "/proc/$serve_pid/status" 2>/dev/null)
    check "relay serve dropped to the relay user (uid $serve_uid)" \
        test "$serve_uid" = "$(in_root id -u relay)"
    # In maildrop/, or in queue/ once the flush the server starts picked it up.
    for _ in $(seq 50); do
        n1=$(in_root find /var/spool/relay/maildrop /var/spool/relay/queue -mindepth 1 -maxdepth 1 ! -name 't.*' | wc -l)
        [ "$((n1 - n0))" = 1 ] && break
        sleep 0.1
    done
    check "the message is in the spool ($n0 -> $n1)" test "$((n1 - n0))" = 1
    kill -HUP "$serve_pid"
    sleep 0.5
    check "SIGHUP reloads (still running)" kill -0 "$serve_pid"
    check "... and it still answers" grep -q '^sent$' <<<"$(smtp_probe 2>&1)"
    kill -TERM "$serve_pid"
    wait "$serve_pid"
    rc=$?
    serve_pid=
    check "SIGTERM stops relay serve with status 0 ($rc)" test "$rc" = 0
    check "it logged the reload" grep -q 'reload: configuration' "$work/serve.log"
    grep -v '^$' "$work/serve.log" | tail -5 | sed 's/^/check-package: serve: /'

    check "purge relay-server" logged apt_in_root purge relay-server
    check "server purge removes the spool" test ! -e "$root/var/spool/relay"
    check "server purge removes /etc/relay" test ! -e "$root/etc/relay"
    check "server purge removes user relay" sh -c "! chroot '$root' getent passwd relay"
    check "server purge removes the statoverride" \
        sh -c "! chroot '$root' dpkg-statoverride --list /usr/sbin/relay | grep -q ."
    check "server purge removes the unit links" \
        sh -c "! ls '$root'/etc/systemd/system/*.wants/relay-* 2>/dev/null | grep -q ."
fi

[ "$failed" = 0 ] || echo "check-package: apt log: $work/apt.log (kept with --keep)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
