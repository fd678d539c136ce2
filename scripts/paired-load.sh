#!/usr/bin/env bash
# Two builds of the search service under the same load at the same moment: the CPU
# each spends per search, and B's against A's.
#
# usage: scripts/paired-load.sh BIN_A BIN_B DATA INPUT [SECONDS]
#   BIN_A, BIN_B  famlink binaries (the same one twice, with FL_ENV_A / FL_ENV_B set
#                 to "NAME=value" to compare two settings; twice alike: the noise)
#   DATA          a data directory (`famlink import`ed); B gets a copy, DATA-b, made
#                 once (left for the next run)
#   INPUT         the children's CSV whose names the clients search for
#
# Why paired: the machine's speed drifts by a third within minutes (other tenants
# of the host), so two builds loaded one after the other differ by more than most
# changes do. Here both servers run at once on loopback, 25 clients each, and share
# whatever the machine gives; each one's CPU time (utime + stime from /proc) per
# search answered is compared. The same build twice gives a ratio within 1 %.
set -euo pipefail
A=$1 B=$2 DATA=$3 INPUT=$4 SECONDS_=${5:-20}
DATA_B="$DATA-b"
PORT_A=18193 PORT_B=18194
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

token() { # data-dir -> a new officer's token
  "$A" user add --data "$1" --agency bench-agency --role officer "bench-$$-$RANDOM" | tail -1
}
TOKEN_A=$(token "$DATA")
[ -d "$DATA_B" ] || cp -r "$DATA" "$DATA_B"
TOKEN_B=$(token "$DATA_B")

env ${FL_ENV_A:-} "$A" serve --data "$DATA" --listen 127.0.0.1:$PORT_A > "$W/a.log" 2>&1 &
PA=$!
env ${FL_ENV_B:-} "$B" serve --data "$DATA_B" --listen 127.0.0.1:$PORT_B > "$W/b.log" 2>&1 &
PB=$!
trap 'kill -TERM $PA $PB 2>/dev/null; wait $PA $PB 2>/dev/null; rm -rf "$W"' EXIT
for p in $PORT_A $PORT_B; do
  for _ in $(seq 1 200); do curl -sf 127.0.0.1:$p/healthz > /dev/null && break; sleep 0.3; done
done

load() { # port token seconds out
  "$A" bench-http --addr 127.0.0.1:$1 --token "$2" --input "$INPUT" --clients 25 --duration "$3" > "$4" 2>&1
}
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Warm up (page cache, the servers' caches), then measure.
load $PORT_A "$TOKEN_A" 8 /dev/null & wa=$!
load $PORT_B "$TOKEN_B" 8 /dev/null & wb=$!
wait $wa $wb
a0=$(cpu $PA) b0=$(cpu $PB)
load $PORT_A "$TOKEN_A" "$SECONDS_" "$W/a.txt" & la=$!
load $PORT_B "$TOKEN_B" "$SECONDS_" "$W/b.txt" & lb=$!
wait $la $lb
a1=$(cpu $PA) b1=$(cpu $PB)
ra=$(awk '/^requests:/ {print $2}' "$W/a.txt")
rb=$(awk '/^requests:/ {print $2}' "$W/b.txt")
hz=$(getconf CLK_TCK)
awk -v ra="$ra" -v rb="$rb" -v ta=$((a1 - a0)) -v tb=$((b1 - b0)) -v hz="$hz" 'BEGIN {
  ca = ta * 1000 / hz / ra; cb = tb * 1000 / hz / rb
  printf "A: %d searches, %.3f ms CPU each\nB: %d searches, %.3f ms CPU each\nB/A: %.3f\n", ra, ca, rb, cb, cb / ca }'
