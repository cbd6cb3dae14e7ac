#!/usr/bin/env bash
# Fetches the agent benchmark's peer (syslog-ng, and socat as its sink) as Debian packages and
# unpacks them into a directory of their own instead of installing them: syslog-ng-core
# conflicts with rsyslog, which a machine may need as its system logger, and the benchmark only
# needs the binaries.
#
#   e2e/bench/fetch-peers.sh [ROOT]      ROOT defaults to e2e/target/peers/root
#
# The .deb files are kept in ROOT/../debs so a second run downloads nothing. Needs apt-get
# (Debian or Ubuntu with syslog-ng 3.x in its archive); no root needed for dpkg -x, but
# apt-get update (run only when the package lists lack syslog-ng-core) does need it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=${1:-$here/../target/peers/root}
mkdir -p "$root"
root=$(cd "$root" && pwd)
cache=$(dirname "$root")/debs
mkdir -p "$cache"

if ! apt-cache show syslog-ng-core >/dev/null 2>&1; then
  echo "package lists do not know syslog-ng-core: apt-get update"
  apt-get update -qq
fi

# The libraries syslog-ng-core needs that a machine without syslog-ng usually lacks (libwrap0
# is there because ldd of the afsocket module found it missing on a bare Debian 12) ...
pkgs=(syslog-ng-core socat libivykis0 libnet1 libpcre3 libwrap0)
# ... plus any other library dependency of the two that is not installed here.
for dep in $(apt-cache depends syslog-ng-core socat | awk '$1 ~ /Depends:$/ && $2 ~ /^lib/ {print $2}' | sort -u); do
  if ! dpkg-query -W -f='${Status}\n' "$dep" 2>/dev/null | grep -q 'install ok installed'; then
    pkgs+=("$dep")
  fi
done

for p in "${pkgs[@]}"; do
  if ! ls "$cache/${p}_"*.deb >/dev/null 2>&1; then
    # apt drops to its _apt user to download unless told otherwise; that user cannot write
    # into a cache under someone's work tree.
    (cd "$cache" && apt-get download -q -o APT::Sandbox::User=root "$p")
  fi
  dpkg -x "$(ls "$cache/${p}_"*.deb | tail -n 1)" "$root"
done

# The same library directories the benchmark puts on LD_LIBRARY_PATH (SyslogNgPeer.libDirs).
libs=""
for d in "$root"/lib/*-linux-gnu* "$root"/usr/lib/*-linux-gnu* "$root"/usr/lib/syslog-ng; do
  [ -d "$d" ] && libs="${libs:+$libs:}$d"
done
modules=$(dirname "$(ls "$root"/usr/lib/syslog-ng/*/libaffile.so | head -n 1)")

missing=$(for f in "$root"/usr/sbin/syslog-ng "$root"/usr/bin/socat "$modules"/*.so; do
  LD_LIBRARY_PATH=$libs ldd "$f" | awk -v f="$f" '/not found/ {print f ": " $1}'
done)
if [ -n "$missing" ]; then
  echo "shared libraries still missing (add their packages to pkgs in $0):" >&2
  echo "$missing" >&2
  exit 1
fi

LD_LIBRARY_PATH=$libs "$root"/usr/sbin/syslog-ng --module-path="$modules" --version | head -n 2
LD_LIBRARY_PATH=$libs "$root"/usr/bin/socat -V | sed -n 2p

cat <<EOF

peers unpacked under $root
run the comparison from the repository root (after ./mvnw -B -DskipTests package):
  java -cp e2e/target/rlog-e2e.jar dev.rlog.e2e.AgentBenchmark --runs 3 --peer syslog-ng --peer-root $root
EOF
