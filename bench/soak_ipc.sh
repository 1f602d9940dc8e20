#!/usr/bin/env bash
# Soak test of a split pipeline: 16 looping H.264 streams decoded in one process, sent through
# ModuleIPC to a second process that writes JSON Lines; halfway through, the server is killed with
# kill -9 and started again. Every 10 s the RSS, open fds and threads of both processes are
# sampled; at the end a summary says whether they stayed flat.
#
#   bench/soak_ipc.sh [SECONDS] [BUILD_DIR]      (defaults: 600, build)
#
# Needs a built tree (scripts/demo.sh or scripts/test.sh) and the ffmpeg CLI. Writes its samples to
# $SOAK_DIR (default: a fresh folder under /tmp) and prints where.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-600}
build=${2:-build}
vstream="$build/tools/vstream"
[ -x "$vstream" ] || { echo "soak: $vstream not found; build first (scripts/test.sh)" >&2; exit 1; }
dir=${SOAK_DIR:-$(mktemp -d /tmp/vstream-soak.XXXXXX)}
mkdir -p "$dir/out"
streams=16

# A 10 s 640x360 clip with motion, 25 fps, H.264: made once per run.
ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=640x360:rate=25:duration=10" \
       -c:v libx264 -preset veryfast -g 50 -pix_fmt yuv420p "$dir/clip.mp4"

inputs=""
for i in $(seq 0 $((streams - 1))); do inputs+="\"cam$i=$dir/clip.mp4\","; done
cat > "$dir/client.json" <<EOF
{
  "source": { "class_name": "DataSource", "next_modules": ["ipc"],
              "custom_params": { "inputs": [${inputs%,}], "loop": true, "frame_rate": 15, "decoder_threads": 1 } },
  "ipc": { "class_name": "ModuleIPC", "max_input_queue_size": 20,
           "custom_params": { "ipc_type": "client", "socket_address": "$dir/ipc.sock", "max_cachedframe_size": 32 } }
}
EOF
cat > "$dir/server.json" <<EOF
{
  "ipc": { "class_name": "ModuleIPC", "next_modules": ["sink"],
           "custom_params": { "ipc_type": "server", "socket_address": "$dir/ipc.sock", "keep_serving": true } },
  "sink": { "class_name": "ResultSink", "custom_params": { "path": "$dir/out/{stream}.jsonl" } }
}
EOF

server_pid=""
client_pid=""
cleanup() {
  for pid in $client_pid $server_pid; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 2
  for pid in $client_pid $server_pid; do kill -KILL "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

start_server() {
  "$vstream" run "$dir/server.json" --log-level warn >>"$dir/server.log" 2>&1 &
  server_pid=$!
}

sample() {  # label pid -> "rss_kb fds threads"
  local pid=$2
  if [ ! -d "/proc/$pid" ]; then echo "$1 - - -"; return; fi
  local rss threads fds
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")
  fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
  echo "$1 $rss $fds $threads"
}

start_server
"$vstream" run "$dir/client.json" --log-level warn >"$dir/client.log" 2>&1 &
client_pid=$!
echo "soak: $streams streams for ${duration}s; samples in $dir/samples.csv"
echo "t_s,process,rss_kb,fds,threads" >"$dir/samples.csv"
start=$(date +%s)
killed=0
while true; do
  now=$(( $(date +%s) - start ))
  [ "$now" -ge "$duration" ] && break
  if [ "$killed" -eq 0 ] && [ "$now" -ge $((duration / 2)) ]; then
    echo "soak: t=${now}s kill -9 of the server (pid $server_pid), then a new one"
    kill -KILL "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    start_server
    killed=1
  fi
  for role in client server; do
    pid=$client_pid; [ "$role" = server ] && pid=$server_pid
    read -r _ rss fds threads <<<"$(sample "$role" "$pid")"
    echo "$now,$role,$rss,$fds,$threads" >>"$dir/samples.csv"
  done
  kill -0 "$client_pid" 2>/dev/null || { echo "soak: the client died; see $dir/client.log" >&2; exit 1; }
  sleep 10
done
frames=$(cat "$dir"/out/*.jsonl 2>/dev/null | wc -l)
echo "soak: $frames frames written by the servers in ${duration}s ($((frames / duration)) per second)"

# Flat means: the last third's maximum is within 10% (RSS) or 4 (fds) of the first third's maximum,
# counted from the first minute (start-up is not steady state) and per server incarnation.
/usr/bin/python3 - "$dir/samples.csv" "$duration" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
duration = int(sys.argv[2])
half = duration // 2
ok = True
print(f"{'process':<16}{'rss MB (early max -> late max)':>34}{'fds (early -> late)':>22}{'threads':>10}")
for role, lo, hi in (("client", 60, duration), ("server", 60, half), ("server (new)", half + 60, duration)):
    name = role.split()[0]
    part = [r for r in rows if r["process"] == name and lo <= int(r["t_s"]) < hi and r["rss_kb"] != "-"]
    if len(part) < 3:
        print(f"{role:<16} too few samples (run longer)")
        continue
    third = max(1, len(part) // 3)
    early, late = part[:third], part[-third:]
    rss_e = max(int(r["rss_kb"]) for r in early) / 1024
    rss_l = max(int(r["rss_kb"]) for r in late) / 1024
    fd_e = max(int(r["fds"]) for r in early)
    fd_l = max(int(r["fds"]) for r in late)
    th = max(int(r["threads"]) for r in part)
    flat = rss_l <= rss_e * 1.10 and fd_l <= fd_e + 4
    ok &= flat
    print(f"{role:<16}{rss_e:>20.1f} -> {rss_l:<10.1f}{fd_e:>12} -> {fd_l:<6}{th:>10}  {'flat' if flat else 'GROWING'}")
sys.exit(0 if ok else 1)
EOF
