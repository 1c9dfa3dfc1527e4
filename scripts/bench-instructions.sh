#!/usr/bin/env bash
# Instructions, not seconds: the TCP-against-smoltcp harness
# (crates/bench/benches/tcp_vs_smoltcp.rs) run under valgrind's callgrind
# with its cache simulation, one measurement at a time, tcplab and smoltcp
# side by side. The counts are deterministic (the same build executes the
# same instructions on every run), so a change of 0.5 % shows, where wall
# time on a shared machine spreads by 5-20 %. They are a complement to the
# timed harness, not a replacement: a cache miss costs what the hardware
# makes it cost, which callgrind does not model (its caches are the host's
# sizes, LRU, with no prefetching).
#
# Columns, per unit (per MiB moved in bulk, per connection cycle):
#   instructions          everything the program executed (set-up is
#                         under 0.1 %)
#   without libc copies   minus glibc's memcpy/memmove/memset: valgrind
#                         counts a `rep movsb` once per byte, so copies
#                         weigh by their length, not their cost; both stacks
#                         copy each byte the same number of times
#   I1 misses, D1 misses  misses of the simulated 32 KiB first-level
#                         instruction and data caches
#
# Usage: scripts/bench-instructions.sh [bulk|cycles|cycles-empty]...
#        (default: all three; about 3 minutes on this machine)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || {
  echo "bench-instructions.sh: needs valgrind (apt-get install valgrind)" >&2
  exit 2
}
measures=("$@")
[ ${#measures[@]} -gt 0 ] || measures=(bulk cycles cycles-empty)
for m in "${measures[@]}"; do
  case $m in
    bulk | cycles | cycles-empty) ;;
    *) echo "bench-instructions.sh: unknown measurement '$m' (bulk, cycles, cycles-empty)" >&2; exit 2 ;;
  esac
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! cargo bench -p tcplab-bench --bench tcp_vs_smoltcp --no-run > "$tmp/build.log" 2>&1; then
  cat "$tmp/build.log" >&2
  echo "bench-instructions.sh: could not build the harness" >&2
  exit 1
fi
bin=$(sed -n 's/.*Executable .*(\(.*\)).*/\1/p' "$tmp/build.log" | tail -1)
[ -x "$bin" ] || { echo "bench-instructions.sh: no harness binary in cargo's output" >&2; exit 1; }

# count STACK-MEASURE: prints "instructions without-copies I1-misses D1-misses"
count() {
  local out=$tmp/$1.out
  TCPLAB_BENCH_ONLY=$1 valgrind --tool=callgrind --cache-sim=yes \
    --callgrind-out-file="$out" "$bin" --bench >/dev/null 2>&1
  callgrind_annotate --show=Ir,I1mr,D1mr,D1mw --threshold=100 "$out" 2>/dev/null |
    awk '
      function num(s) { gsub(",", "", s); return s + 0 }
      /PROGRAM TOTALS/ { ir = num($1); i1 = num($3); d1 = num($5) + num($7) }
      /mem(move|cpy|set)-vec-unaligned-erms/ { copies += num($1) }
      END { printf "%.0f %.0f %.0f %.0f\n", ir, ir - copies, i1, d1 }'
}

printf '| measure | unit | stack | instructions | without libc copies | I1 misses | D1 misses |\n'
printf '|---|---|---|---:|---:|---:|---:|\n'
for m in "${measures[@]}"; do
  case $m in
    bulk) unit="MiB"; per=256 ;;
    *) unit="cycle"; per=10000 ;;
  esac
  read -r t_ir t_nc t_i1 t_d1 < <(count "tcplab-$m")
  read -r s_ir s_nc s_i1 s_d1 < <(count "smoltcp-$m")
  if [ "${t_ir:-0}" -le 0 ] || [ "${s_ir:-0}" -le 0 ]; then
    echo "bench-instructions.sh: callgrind counted nothing for $m" >&2
    exit 1
  fi
  awk -v m="$m" -v u="$unit" -v p="$per" \
    -v a="$t_ir" -v b="$t_nc" -v c="$t_i1" -v d="$t_d1" \
    -v e="$s_ir" -v f="$s_nc" -v g="$s_i1" -v h="$s_d1" 'BEGIN {
      printf "| %s | %s | tcplab | %.0f | %.0f | %.1f | %.1f |\n", m, u, a/p, b/p, c/p, d/p
      printf "| %s | %s | smoltcp | %.0f | %.0f | %.1f | %.1f |\n", m, u, e/p, f/p, g/p, h/p
      printf "| %s | | tcplab ÷ smoltcp | %.2f | %.2f | | |\n", m, a/e, b/f
    }'
done
