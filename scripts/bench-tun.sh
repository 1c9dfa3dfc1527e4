#!/usr/bin/env bash
# tcplab over a TUN device against the kernel, in one run (needs root).
#
#   goodput, kernel -> tcplab   (kernel nc sends SIZE to tcplab's serve discard),
#     with the device's offloads (the default) and with --no-offload
#   goodput, tcplab -> kernel   (tcplab's transfer sends SIZE to a kernel nc)
#   goodput, kernel curl downloading SIZE from tcplab's serve http
#   goodput, kernel -> kernel over a veth pair (the reference)
#   1-byte TCP ping-pong round trip: kernel client to tcplab's serve echo,
#   and kernel to kernel over veth (same python client both times)
#   the TUN device's own packet-rate ceiling (tun-ceiling)
#
# Usage: scripts/bench-tun.sh [SIZE_MB]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-200}
[ "$(id -u)" = 0 ] || { echo "bench-tun.sh: needs root (TUN devices, namespaces)" >&2; exit 2; }

cargo build -q --release --bin tcplab -p tcplab-cli
cargo build -q --release --bin tun-ceiling -p tcplab-bench
bin=$PWD/target/release/tcplab
tmp=$(mktemp -d)
ns=tcplab-bench-$$
ns2=tcplab-bench2-$$
dev=tb$$
pids=()
cleanup() {
  # Background jobs of a script ignore SIGINT; TERM stops tcplab as cleanly.
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.3
  ip netns del "$ns" 2>/dev/null || true
  ip netns del "$ns2" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
in_ns() { ip netns exec "$ns" "$@"; }

head -c "$((size_mb << 20))" /dev/urandom > "$tmp/big.bin"
bytes=$(stat -c %s "$tmp/big.bin")
ip netns add "$ns"; in_ns ip link set lo up
ip netns add "$ns2"; ip netns exec "$ns2" ip link set lo up

now() { date +%s.%N; }
rate() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.2f Gbit/s (%.0f MB/s)", b*8/t/1e9, b/t/1e6 }'; }

echo "== $size_mb MiB per transfer; $(nproc) CPUs"

# Background jobs are started with `ip netns exec` itself (not through a
# shell function), so that $! is the process to stop.
ip netns exec "$ns" "$bin" run --tun "$dev" --addr 10.77.0.2/24 --gateway 10.77.0.1 -- serve discard > "$tmp/run.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "/run/tcplab/$dev.sock" ] && break; sleep 0.05; done

t0=$(now); in_ns nc -N 10.77.0.2 9 < "$tmp/big.bin"; t1=$(now)
kt=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
echo "kernel -> tcplab (nc to serve discard):   $(rate "$bytes" "$kt")"

# The same without offloads: every segment one datagram of the MTU.
ip netns exec "$ns" "$bin" run --tun "${dev}p" --no-offload --addr 10.76.0.2/24 -- serve discard > "$tmp/run-plain.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "/run/tcplab/${dev}p.sock" ] && break; sleep 0.05; done
t0=$(now); in_ns nc -N 10.76.0.2 9 < "$tmp/big.bin"; t1=$(now)
pt=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
echo "the same, --no-offload:                   $(rate "$bytes" "$pt")"

ip netns exec "$ns" sh -c "exec nc -l 10.77.0.1 9000 > /dev/null" &
pids+=($!)
sleep 0.3
out=$(in_ns "$bin" run --tun "$dev" --attach -- transfer -s "${size_mb}MiB" -p 9000 10.77.0.1)
echo "tcplab -> kernel (transfer to nc):        ${out#*: }" | head -1

ip netns exec "$ns" "$bin" run --tun "$dev" --attach -- serve http --root "$tmp" > /dev/null 2>&1 &
pids+=($!)
sleep 0.3
sp=$(in_ns curl -s -o /dev/null -w '%{speed_download}' http://10.77.0.2/big.bin)
echo "kernel curl from tcplab serve http:       $(rate "$sp" 1)"

# The reference: kernel to kernel over a veth pair.
ip link add "v$$a" netns "$ns" type veth peer name "v$$b" netns "$ns2"
in_ns sh -c "ip addr add 10.79.0.1/24 dev v$$a && ip link set v$$a up"
ip netns exec "$ns2" sh -c "ip addr add 10.79.0.2/24 dev v$$b && ip link set v$$b up"
ip netns exec "$ns2" sh -c "exec nc -l 10.79.0.2 9000 > /dev/null" &
pids+=($!)
sleep 0.3
t0=$(now); in_ns nc -N 10.79.0.2 9000 < "$tmp/big.bin"; t1=$(now)
vt=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
echo "kernel -> kernel over veth (reference):   $(rate "$bytes" "$vt")"
awk -v k="$kt" -v p="$pt" -v v="$vt" 'BEGIN { printf "tcplab as receiver / veth:                %.2fx (--no-offload %.2fx)\n", v/k, v/p }'

# Round trips of one byte over TCP, TCP_NODELAY on the client.
cat > "$tmp/pingpong.py" <<'PY'
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection((host, port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for _ in range(100): s.send(b'x'); s.recv(1)
t = time.perf_counter()
for _ in range(n): s.send(b'x'); s.recv(1)
print(f"{(time.perf_counter() - t) / n * 1e6:.1f}")
PY
ip netns exec "$ns" "$bin" run --tun "$dev" --attach -- serve echo > /dev/null 2>&1 &
pids+=($!)
sleep 0.3
rt=$(in_ns python3 "$tmp/pingpong.py" 10.77.0.2 7 5000)
ip netns exec "$ns2" python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('10.79.0.2', 7)); s.listen(1)
c, _ = s.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while True:
    b = c.recv(1)
    if not b: break
    c.send(b)
" &
pids+=($!)
sleep 0.3
vr=$(in_ns python3 "$tmp/pingpong.py" 10.79.0.2 7 5000)
echo "1-byte TCP round trip, kernel <-> tcplab:  ${rt} us"
echo "1-byte TCP round trip, kernel <-> kernel:  ${vr} us (python echo over veth)"

echo "TUN device ceiling (no stack in user space):"
ip netns exec "$ns" "$PWD/target/release/tun-ceiling" "tc$$" | sed 's/^/  /'
