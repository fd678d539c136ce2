#!/usr/bin/env bash
# famlink link beside Splink on FEBRL4 and FEBRL3, whole process, same machine, same moment.
# usage: scripts/bench-linkage.sh [WORKDIR]   (from the repo root; WORKDIR defaults to /tmp/famlink-bench)
# needs: cargo build --release; for Splink: python3 -m venv /tmp/peer-venv &&
#        /tmp/peer-venv/bin/pip install splink==5.0.0 recordlinkage==0.16
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${1:-/tmp/famlink-bench}
D="$ROOT/../shared/data"
P="$ROOT/../shared/peers"
B="$ROOT/target/release/famlink"
mkdir -p "$W"
export PEER_RESULTS="$W/peer-results" PEER_SYNTH="$W/peer-synth"

fig() { # time-file -> "wall_s peak_MB"
  awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; w=s}
              /Maximum resident set size/ {r=$2/1024} END {printf "%.2f s, %.0f MB", w, r}' "$1"
}

run_famlink() { # tag truth args...
  local tag=$1 truth=$2; shift 2
  /usr/bin/time -v "$B" link --quiet --rules "$ROOT/matching-rules/febrl.toml" "$@" --out "$W/$tag.csv" 2> "$W/$tag.time"
  echo "famlink $tag: $(fig "$W/$tag.time")"
  "$B" eval-pairs --pairs "$W/$tag.csv" --truth "$truth"
}

run_famlink f4 "$D/febrl4_true_links.csv" --left "$D/febrl4a.csv" --right "$D/febrl4b.csv"
run_famlink f3 "$D/febrl3_true_pairs.csv" --dedupe --left "$D/febrl3.csv"

if [ -x /tmp/peer-venv/bin/python ]; then
  cd "$W"
  /usr/bin/time -v /tmp/peer-venv/bin/python "$P/splink_febrl4.py" --model full --u-max-pairs 1e6 --edit lev --tag f4 2> "$W/splink-f4.time" > /dev/null
  echo "splink f4: $(fig "$W/splink-f4.time")"
  /tmp/peer-venv/bin/python "$P/evaluate.py" f4 --time "$W/splink-f4.time" | grep -A8 '"at_0.5"' | grep -E 'precision|recall|"f1"'
  /usr/bin/time -v /tmp/peer-venv/bin/python "$P/splink_febrl3.py" --model full --u-max-pairs 1e6 --edit lev --tag f3 2> "$W/splink-f3.time" > /dev/null
  echo "splink f3: $(fig "$W/splink-f3.time")"
  /tmp/peer-venv/bin/python "$P/evaluate.py" f3 --time "$W/splink-f3.time" | grep -A8 '"at_0.5"' | grep -E 'precision|recall|"f1"'
else
  echo "Splink not installed (/tmp/peer-venv): skipped"
fi
