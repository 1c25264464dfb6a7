#!/usr/bin/env bash
# Installs llama-cpp-python built for this CPU without -march=native.
#
# Why: the default native build takes ggml's AMX path on these machines and
# segfaults on the first token. We switch SIMD levels on explicitly from
# /proc/cpuinfo, keep AMX off, and cache the wheel under a key made of the
# flags (pip's own cache keys by version only and would hand back a bad build).
set -euo pipefail
python=${1:?usage: install-llama.sh PYTHON}
version=0.3.36

flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { [[ " $flags " == *" $1 "* ]] && echo ON || echo OFF; }
avx512=$(has avx512f)
cmake_args="-DGGML_NATIVE=OFF -DGGML_AVX=$(has avx) -DGGML_AVX2=$(has avx2) -DGGML_FMA=$(has fma)"
cmake_args+=" -DGGML_F16C=$(has f16c) -DGGML_AVX512=$avx512 -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF"
cmake_args+=" -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
cmake_args+=" -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAVA_BUILD=OFF"

if "$python" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$version')" 2>/dev/null \
   && [ -f "$("$python" -c 'import sys; print(sys.prefix)')/.llama-flags" ] \
   && [ "$(cat "$("$python" -c 'import sys; print(sys.prefix)')/.llama-flags")" = "$cmake_args" ]; then
  exit 0
fi

key=$(printf '%s %s' "$version" "$cmake_args" | sha256sum | cut -c1-16)
wheel_dir="${XDG_CACHE_HOME:-$HOME/.cache}/thinkgate/llama-wheels/$key"
if ! ls "$wheel_dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $version ($cmake_args); takes a few minutes on 2 cores"
  mkdir -p "$wheel_dir.tmp"
  CMAKE_ARGS="$cmake_args" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$python" -m pip wheel --quiet --no-deps --no-cache-dir "llama-cpp-python==$version" -w "$wheel_dir.tmp"
  rm -rf "$wheel_dir" && mv "$wheel_dir.tmp" "$wheel_dir"
fi
"$python" -m pip install --quiet --force-reinstall --no-deps "$wheel_dir"/llama_cpp_python-*.whl
"$python" -m pip install --quiet "numpy>=1.20" "typing-extensions>=4.5" "diskcache>=5.6.1" "jinja2>=2.11.3"
printf '%s' "$cmake_args" > "$("$python" -c 'import sys; print(sys.prefix)')/.llama-flags"
