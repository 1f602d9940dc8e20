#!/usr/bin/env bash
# Installs the Debian packages vstream needs to build, test and run its demo.
# Idempotent: packages already present are skipped, so a second run costs a few seconds.
# Usage: scripts/deps.sh            (as root, or with sudo available)
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config git
  # core; the vstream tool's command line (CLI11, header-only)
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # video and vision
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libavdevice-dev ffmpeg
  libopencv-dev opencv-doc
  # DataSource tests: zlib writes a PNG of huge dimensions; GStreamer's RTSP server, driven from
  # /usr/bin/python3 (modules/source/tests/rtsp_server.py), serves RTSP on 127.0.0.1
  zlib1g-dev python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp
  # inference tests: small ONNX models are generated at test time
  python3-onnx
  # the Python package (python/): pybind11 bindings for /usr/bin/python3, numpy arrays of frames,
  # its pytest suites
  pybind11-dev python3-dev python3-numpy python3-pytest
  # clang with its libFuzzer runtime builds the IPC message decoder's fuzz target
  clang libclang-rt-14-dev
  # benchmark baselines (bench/): GStreamer decode; plugins-good also has the RTSP tests' qtdemux
  # and rtph264pay; OpenCV from Python for the plain-Python pipelines bench_python.py measures
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-libav
  python3-opencv
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
