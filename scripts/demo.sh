#!/usr/bin/env bash
# Installs what is missing, builds vstream, and runs the demo pipelines, then says where their
# output is: configs/decode.json decodes opencv-doc's sample videos with FFmpeg (four streams at
# once; tree.avi's index announces more frames than it holds, which the run reports), and
# configs/synthetic.json pushes generated frames through two stages.
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
echo "== running configs/decode.json"
# Exit code 1 is expected here: tree.avi is reported as a stream error (see above).
build/tools/vstream run configs/decode.json --stats-interval 1 --stats-json "$out/decode_stats.json" || true
build/tools/vstream graph configs/decode.json > "$out/decode.dot"
echo "== running configs/synthetic.json"
build/tools/vstream run configs/synthetic.json --stats-json "$out/synthetic_stats.json"
echo
echo "demo output:"
echo "  $out/decode_stats.json     per-module and per-stream statistics of the decode run (JSON)"
echo "  $out/synthetic_stats.json  the same for the synthetic run"
echo "  $out/decode.dot            the decode pipeline's graph (dot -Tpng $out/decode.dot -o decode.png)"
