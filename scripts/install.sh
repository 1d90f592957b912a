#!/usr/bin/env bash
# Install everything the suite needs into .venv, on a fresh machine.
#   scripts/install.sh          the suite with its ONNX extra (onnx, onnxruntime, qonnx), the peer
#                               runtimes (executorch with XNNPACK; onnxruntime; torch eager) and the
#                               fleet extra (Dask distributed, for suite run --cluster)
#   scripts/install.sh --test   the same and the test tools
#   scripts/install.sh --edge   (with either) also qemu-user, the arm64 C library and IREE's aarch64 runtime
#                               (.edge/), so `suite run --target aarch64-a72 --runner qemu` runs here
# Vulkan: Mesa's lavapipe (a CPU Vulkan driver) and vulkaninfo come from Debian's packages, so that
# `suite run --target vulkan` works with no GPU; skipped with a note where apt is not available.
# clang (Debian's) builds REVD2-HW's hand-written kernel for x86-64 and aarch64; without it the run
# leaves REVD2-HW out and says so.
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
if ! command -v clang >/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang) \
            >/dev/null || echo "install.sh: could not install clang; the run will leave REVD2-HW out" >&2
    else
        echo "install.sh: no root apt-get: install clang for REVD2-HW's hand-written kernel" >&2
    fi
fi
edge=0; extras="onnx,peers,fleet"
for arg in "$@"; do
    case "$arg" in
        --test) extras="onnx,peers,fleet,test" ;;
        --edge) edge=1 ;;
        *) echo "install.sh: unknown option $arg (--test, --edge)" >&2; exit 2 ;;
    esac
done
python3 -m venv .venv
# torch first, pinned: 2.13.0 is the CPU wheel these machines carry; anything unpinned pulls CUDA builds
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e ".[$extras]"
if [ "$extras" = "onnx,peers,fleet,test" ] && ! [ -x /usr/sbin/sshd ]; then
    # the SSH runner's tests start a real sshd on 127.0.0.1 with throwaway keys
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client) \
            >/dev/null || echo "install.sh: could not install openssh-server; the SSH tests will say why" >&2
    else
        echo "install.sh: no root apt-get: install openssh-server for the SSH runner's tests" >&2
    fi
fi
if [ "$edge" = 1 ]; then
    # qemu-user runs aarch64 binaries here; libc6/libstdc++6-arm64-cross are their C runtime (/usr/aarch64-linux-gnu)
    if ! command -v qemu-aarch64 >/dev/null || [ ! -d /usr/aarch64-linux-gnu/lib ]; then
        if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
            (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user \
                libc6-arm64-cross libstdc++6-arm64-cross) >/dev/null
        else
            echo "install.sh: --edge needs root apt-get for qemu-user, libc6-arm64-cross, libstdc++6-arm64-cross" >&2
            exit 1
        fi
    fi
    # IREE's own aarch64 runtime tools, from the same release's manylinux wheel
    dest=.edge/iree-runtime-aarch64-a72
    if [ ! -x "$dest/iree/_runtime_libs/iree-run-module" ]; then
        wheels=$(mktemp -d)
        .venv/bin/pip download -q --no-deps --only-binary=:all: --platform manylinux_2_28_aarch64 \
            --python-version 3.11 iree-base-runtime==3.13.0 -d "$wheels"
        rm -rf "$dest" && mkdir -p "$dest"
        .venv/bin/python -m zipfile -e "$wheels"/iree_base_runtime-*.whl "$dest"
        chmod +x "$dest"/iree/_runtime_libs/iree-*
        rm -rf "$wheels"
    fi
fi
# the pin must hold: nothing above may have replaced the CPU wheel
.venv/bin/python -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 'torch was replaced: ' + torch.__version__)"
