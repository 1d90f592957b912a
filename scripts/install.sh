#!/usr/bin/env bash
# Install everything the suite needs into .venv, on a fresh machine.
#   scripts/install.sh          the suite with its ONNX extra (onnx, onnxruntime, qonnx) and the peer
#                               runtimes (executorch with XNNPACK; onnxruntime; torch eager)
#   scripts/install.sh --test   the same and the test tools
# Vulkan: Mesa's lavapipe (a CPU Vulkan driver) and vulkaninfo come from Debian's packages, so that
# `suite run --target vulkan` works with no GPU; skipped with a note where apt is not available.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1 || ! command -v vulkaninfo >/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mesa-vulkan-drivers vulkan-tools) \
            >/dev/null || echo "install.sh: could not install Mesa's Vulkan driver; the vulkan target will say why" >&2
    else
        echo "install.sh: no root apt-get: install mesa-vulkan-drivers and vulkan-tools for the vulkan target" >&2
    fi
fi
python3 -m venv .venv
# torch first, pinned: 2.13.0 is the CPU wheel these machines carry; anything unpinned pulls CUDA builds
.venv/bin/pip install -q torch==2.13.0
if [ "${1:-}" = "--test" ]; then
    .venv/bin/pip install -q -e '.[onnx,peers,test]'
else
    .venv/bin/pip install -q -e '.[onnx,peers]'
fi
# the pin must hold: nothing above may have replaced the CPU wheel
.venv/bin/python -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 'torch was replaced: ' + torch.__version__)"
