#!/bin/sh
# regen.sh - regenerate the .ref/.err/.rc files of every golden case with
# real Postfix tools.
#
# Each case is NAME.map (the table, or for spec_* cases the table spec on
# one line) with NAME.in (one lookup key per line). The prefix of NAME says
# the table type: regexp_, pcre_, texthash_, hash_, aliases_ (postalias
# format, hash: type) or spec_ (inline:, static:, unionmap:, pipemap:).
# Outputs: NAME.ref (stdout of "postmap -q - TYPE:NAME.map < NAME.in"),
# NAME.err (stderr of building and querying the table), NAME.rc (exit status).
#
# Postfix is not this machine's MTA: the Debian packages are unpacked, not
# installed, and run with a private configuration directory:
#   apt-get download postfix postfix-pcre
#   dpkg -x postfix_*.deb /opt/postfix-ref; dpkg -x postfix-pcre_*.deb /opt/postfix-ref
# Set POSTFIX_ROOT to use another unpacked tree.
set -eu
POSTFIX_ROOT=${POSTFIX_ROOT:-/opt/postfix-ref}
here=$(cd "$(dirname "$0")" && pwd)
libdir=$POSTFIX_ROOT/usr/lib/postfix
postmap=$POSTFIX_ROOT/usr/sbin/postmap
postalias=$POSTFIX_ROOT/usr/sbin/postalias
[ -x "$postmap" ] || { echo "regen.sh: no postmap in $POSTFIX_ROOT" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
conf=$work/conf
mkdir -p "$conf" "$work/q" "$work/d"
cat >"$conf/main.cf" <<CF
compatibility_level = 3.6
shlib_directory = $libdir
meta_directory = $conf
daemon_directory = $libdir/sbin
command_directory = $POSTFIX_ROOT/usr/sbin
queue_directory = $work/q
data_directory = $work/d
mail_owner = daemon
setgid_group = mail
myhostname = torres.example.net
CF
printf 'pcre\tpostfix-pcre.so\tdict_pcre_open\n' >"$conf/dynamicmaps.cf"
: >"$conf/master.cf"
export LD_LIBRARY_PATH=$libdir

for map in "$here"/*.map; do
    name=$(basename "$map" .map)
    file=$name.map
    case=$work/case
    rm -rf "$case"; mkdir "$case"; cp "$map" "$case/$file"
    set +e
    case $name in
    regexp_*)   (cd "$case" && "$postmap" -c "$conf" -q - "regexp:$file") ;;
    pcre_*)     (cd "$case" && "$postmap" -c "$conf" -q - "pcre:$file") ;;
    texthash_*) (cd "$case" && "$postmap" -c "$conf" -q - "texthash:$file") ;;
    hash_*)     (cd "$case" && "$postmap" -c "$conf" "hash:$file" &&
                 "$postmap" -c "$conf" -q - "hash:$file") ;;
    aliases_*)  (cd "$case" && "$postalias" -c "$conf" "hash:$file" &&
                 "$postalias" -c "$conf" -q - "hash:$file") ;;
    spec_*)     (cd "$case" && "$postmap" -c "$conf" -q - "$(cat "$file")") ;;
    *) echo "regen.sh: $name: unknown case type" >&2; exit 1 ;;
    esac <"$here/$name.in" >"$here/$name.ref" 2>"$here/$name.err"
    echo $? >"$here/$name.rc"
    set -e
done
echo "regen.sh: regenerated $(ls "$here"/*.map | wc -l) cases"
