#!/usr/bin/env bash
# Installs what is missing, builds vstream, and runs the demo pipeline (configs/synthetic.json:
# generated frames through two stages, four streams at once), then says where its output is.
#
#   scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target vstream_cli

out=build/demo
mkdir -p "$out"
echo "== running configs/synthetic.json"
build/tools/vstream run configs/synthetic.json --stats-interval 1 --stats-json "$out/stats.json"
build/tools/vstream graph configs/synthetic.json > "$out/pipeline.dot"
echo
echo "demo output:"
echo "  $out/stats.json    per-module and per-stream statistics of the run (JSON)"
echo "  $out/pipeline.dot  the pipeline graph (render with: dot -Tpng $out/pipeline.dot -o pipeline.png)"
