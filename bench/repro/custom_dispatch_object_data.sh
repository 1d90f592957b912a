#!/usr/bin/env bash
# IREE 3.13 (llvm-cpu): an executable object given inline as `data` is never written to the file
# that is handed to the linker, so its symbols are undefined; with `data` alone iree-compile crashes.
# The object given by `path` links. That is why REVD2-HW (workloads/algorithms/revd2_hw.py) refers
# to its kernel object by path, a content-addressed file in the suite's cache folder.
#
# In IREE's source (compiler/plugins/target/LLVMCPU/LLVMCPUTarget.cpp, serializeExecutable):
#   if (auto dataAttr = objectAttr.getData()) {
#     objectFiles.push_back(Artifact::createTemporary(...));   // created, never filled with dataAttr
#
# Run: bash bench/repro/custom_dispatch_object_data.sh   (needs clang and the venv's iree-compile)
# Prints one line per form: what iree-compile said.
set -u
here=$(cd "$(dirname "$0")" && pwd)
compile=${IREE_COMPILE:-$here/../../.venv/bin/iree-compile}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/f.c" <<'C'
#include <stddef.h>
void add_one(const float *x, size_t xo, float *y, size_t yo, size_t i) { y[yo + i] = x[xo + i] + 1.0f; }
C
clang -target x86_64-none-elf -O2 -ffreestanding -fPIC -c "$tmp/f.c" -o "$tmp/f.o" || exit 1
hex=$(od -An -v -tx1 "$tmp/f.o" | tr -d ' \n' | tr a-f A-F); n=$(stat -c %s "$tmp/f.o")
module() {   # $1: the object attribute's fields
cat <<M
module {
  stream.executable private @ex attributes {hal.executable.objects = #hal.executable.objects<{
      #hal.executable.target<"llvm-cpu", "embedded-elf-x86_64", {}> = [#hal.executable.object<{$1}>]}>} {
    stream.executable.export public @add workgroups(%n: index) -> (index, index, index) {
      %c1 = arith.constant 1 : index
      stream.return %n, %c1, %c1 : index, index, index
    }
    builtin.module {
      func.func private @add_one(%x: memref<f32>, %xo: index, %y: memref<f32>, %yo: index, %i: index)
          attributes {hal.import.static, llvm.bareptr = true}
      func.func @add(%xb: !stream.binding, %yb: !stream.binding) {
        %c0 = arith.constant 0 : index
        %i = stream.dispatch.workgroup.id[0] : index
        %x = stream.binding.subspan %xb[%c0] : !stream.binding -> memref<4xf32>
        %y = stream.binding.subspan %yb[%c0] : !stream.binding -> memref<4xf32>
        %xbase, %xoff, %xs, %xst = iree_codegen.extract_strided_metadata %x : memref<4xf32> -> memref<f32>, index, index, index
        %ybase, %yoff, %ys, %yst = iree_codegen.extract_strided_metadata %y : memref<4xf32> -> memref<f32>, index, index, index
        func.call @add_one(%xbase, %xoff, %ybase, %yoff, %i) : (memref<f32>, index, memref<f32>, index, index) -> ()
        return
      }
    }
  }
  func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
    %c4 = arith.constant 4 : index
    %y = flow.dispatch @ex::@add[%c4](%x) : (tensor<4xf32>) -> tensor<4xf32>
    return %y : tensor<4xf32>
  }
}
M
}
flags=(--iree-hal-target-device=local --iree-hal-local-target-device-backends=llvm-cpu --iree-llvmcpu-target-cpu=host)
try() {   # $1: label, $2: object fields
  module "$2" > "$tmp/m.mlir"
  if out=$("$compile" "$tmp/m.mlir" "${flags[@]}" -o "$tmp/m.vmfb" 2>&1); then
    echo "$1: compiled"
  else
    echo "$1: $(echo "$out" | grep -m1 -E 'error|Stack dump|PLEASE' || echo "$out" | head -1)"
  fi
}
try "path           " "path = \"$tmp/f.o\""
try "path + data    " "path = \"f.o\", data = dense<\"0x$hex\"> : vector<${n}xi8>"
try "data only      " "data = dense<\"0x$hex\"> : vector<${n}xi8>"
