#!/usr/bin/env bash
# Installs the Debian packages optc's tests need. Run as root (CI does).
set -euo pipefail
pkgs=(
  libonnx-testdata   # ONNX 1.12 backend conformance suite (node, pytorch-*, simple)
  dataset-fashion-mnist  # Fashion-MNIST IDX files (fixtures: optc eval, regression tests)
  ca-certificates
  llvm-14                # opt/llc for optc compile (LLVM 14 IR, as github.com/llir/llvm writes it)
  gcc-aarch64-linux-gnu  # cross-links ARM64 bundles
  libc6-dev-arm64-cross  # ARM64 C library for the cross linker
  qemu-user              # runs ARM64 bundles in the tests (qemu-aarch64)
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) != 0 ]]; then
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
command -v go >/dev/null || { echo "install-deps: Go 1.26 is required (https://go.dev/dl)" >&2; exit 1; }
command -v npm >/dev/null || { echo "install-deps: npm is required (Debian: nodejs npm)" >&2; exit 1; }
echo "install-deps: ok"
