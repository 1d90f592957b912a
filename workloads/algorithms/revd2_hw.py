"""REVD2-HW: REVD2 as a hand-written kernel (workloads/kernels/revd2.c) in an IREE custom dispatch.

IREE 3.13 compiles REVD2's own loop nest (workloads/algorithms/revd2.py) as a scalar gather: its
input row depends on the phase through (a + crop) div r, and the affine forms that avoid that hit
a codegen error or a poor vector tiling (bench/revd2_forms.py, bench/repro/). So this entry keeps
the algorithm and writes the kernel by hand, the way IREE's samples/custom_dispatch/cpu/embedded
does: the C source is compiled by clang for each CPU architecture into a freestanding object, the
objects travel inside the MLIR (so the module stays one self-contained text, cached and bundled
like any other), and IREE links the one for its target into a dispatch of N x OH workgroups --
one output row each, or the r rows of one q where rows are short (``rows_per_workgroup``) -- that
its task system spreads over the threads. Tables name it REVD2-HW:
its speed is the C code's and clang's, not IREE's code generation.

MLIR: one flow.dispatch of a stream.executable whose export calls ``revd2_workgroup`` with the
input, W2[C_out, C_in, r, r, T, T], the per-phase bias and an int32 parameter block. NHWC layers
get a transpose on each side (the kernel reads and writes NCHW). Layers of short rows and many
channels (FSRCNN) get their input zero-padded by a tensor.pad first (``padded_ahead``), so that the
kernel's workgroups do not copy their border rows again and again.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

from workloads.algorithms.common import phase_weights, phases
from workloads.algorithms.revd2 import _dense, _t
from workloads.algorithms.revd2 import counts as revd2_counts
from workloads.counts import rw
from workloads.errors import UserError
from workloads.methods import deployed_deconv
from workloads.transforms import Deconv

KERNEL_SOURCE = Path(__file__).resolve().parent.parent / "kernels" / "revd2.c"
# IREE's architecture names for its embedded-ELF executables -> clang's target and code flags.
# x86-64: the host's level (v4 = AVX-512, v3 = AVX2 + FMA), since llvm-cpu builds for the host.
CLANG_TARGETS = {"x86_64": ("x86_64-none-elf", ()), "arm_64": ("aarch64-none-elf", ())}
CLANG_FLAGS = ("-O3", "-std=c17", "-ffreestanding", "-fPIC", "-fvisibility=hidden", "-fno-plt", "-fno-exceptions",
               "-fdata-sections", "-ffunction-sections", "-funique-section-names")


CPU_ARCHS = ("x86_64", "aarch64")          # the targets' architectures (``uname -m`` spelling) it is built for


def missing_tool() -> str | None:
    """Why the kernel cannot be built on this machine, or None."""
    return None if shutil.which("clang") else "REVD2-HW builds its kernel with clang, which is not installed " \
                                                 "(scripts/install.sh installs it: apt-get install clang)"


def _x86_level() -> tuple[str, ...]:
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        flags = []
    host_is_x86 = platform.machine().lower() in ("x86_64", "amd64")
    if not host_is_x86:                                        # cross-built: assume a current x86-64
        return ("-march=x86-64-v3",)
    if {"avx512f", "avx512vl"} <= set(flags):
        return ("-march=x86-64-v4",)
    return ("-march=x86-64-v3",) if {"avx2", "fma"} <= set(flags) else ("-march=x86-64",)


def kernel_dir() -> Path:
    """Where built kernels are kept: the suite's cache folder (suite/cache.py), under kernels/."""
    env = os.environ.get("SUITE_CACHE_DIR")
    root = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "upsampling-suite"
    return root / "kernels"


@functools.cache
def kernel_object(arch: str) -> Path:
    """The kernel compiled for one of IREE's CPU architectures (``x86_64``, ``arm_64``), as a file named
    by a digest of the source and the clang command: IREE 3.13 links an object only from a file (its
    inline ``data`` form is never written out: bench/repro/custom_dispatch_object_data.sh)."""
    reason = missing_tool()
    if reason:
        raise UserError(reason)
    triple, extra = CLANG_TARGETS[arch]
    cmd = ["clang", "-target", triple, *(_x86_level() if arch == "x86_64" else extra), *CLANG_FLAGS, "-c",
           str(KERNEL_SOURCE)]
    version = subprocess.run(["clang", "--version"], capture_output=True, text=True).stdout
    digest = hashlib.sha256("\0".join([KERNEL_SOURCE.read_text(), version, *cmd]).encode()).hexdigest()[:16]
    obj = kernel_dir() / f"revd2-{digest}-{arch}.o"
    if obj.exists():
        return obj
    obj.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=obj.parent) as tmp:
        out = Path(tmp) / obj.name
        proc = subprocess.run([*cmd, "-o", str(out)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"clang failed on {KERNEL_SOURCE.name}: {proc.stderr.strip()[-500:]}")
        os.replace(out, obj)                   # whole or absent, for a concurrent run
    return obj


def _object(arch: str) -> str:
    return (f'#hal.executable.target<"llvm-cpu", "embedded-elf-{arch}", {{}}> = '
            f'[#hal.executable.object<{{path = "{kernel_object(arch)}"}}>]')


def _dense_i32(values: list[int]) -> str:
    data = np.asarray(values, dtype="<i4")
    return f'dense<"0x{data.tobytes().hex().upper()}"> : tensor<{len(values)}xi32>'


# The kernel's widest vector (VL: 16 floats on AVX-512) and group of columns (NVMAX x VL)
VECTOR_COLUMNS, GROUP_COLUMNS = 16, 64


def input_padding(d: Deconv, h: int, w: int) -> tuple[int, int, int, int]:
    """Zeros (top, bottom, left, right) around the input that keep every read of the kernel's vector
    path inside it: the taps' reach beyond the image, and on the right the lanes of a row's last
    vector past its end (a group never reads past that: it is moved back to end at the row's end, or
    is the whole row). With them the kernel reads each row in place and never copies a border."""
    ph, pw = phases(d, h, w)
    vectors = -(-pw.q // VECTOR_COLUMNS) * VECTOR_COLUMNS
    right = max(pw.pad_after, vectors + max(pw.shift) - w)
    return ph.pad_before, ph.pad_after, pw.pad_before, right


# Border rows a workgroup copies (channels x taps) above which one padded copy of the input is cheaper
BORDER_ROWS_AHEAD = 64


def padded_ahead(cin: int, taps: int, row_groups: int) -> bool:
    """Whether IREE zero-pads the input before the kernel (``input_padding``) instead of the kernel
    copying its border rows. Where rows are short (at most two groups of columns), every group is at
    a border and each workgroup copies C_in x T rows again: cheap for the sweep's 3 channels, the
    kernel's main cost for FSRCNN's 56 x 3-9 (bench/revd2_hw_choices.py: the padded input ran its D-SP
    and D-NN in 0.54-0.98x the time; the sweep 0.82-1.22x, within noise). Wide rows (ESPCN) keep REVD2's in-place
    read: only their first and last groups copy, and padding their large input ran 1.03-1.12x slower.
    ``row_groups``: the output columns of one phase, ceil(OW / r), that a row's groups cover."""
    return row_groups <= 2 * GROUP_COLUMNS and cin * taps >= BORDER_ROWS_AHEAD


def rows_per_workgroup(d: Deconv, ow: int) -> int:
    """Output rows per workgroup: one where a row's phases span more than two vectors of columns;
    where they span two or fewer (FSRCNN's 32 columns a phase), all r rows of one q, which the
    kernel computes together where their accumulators fit in registers (RA_FOR in revd2.c), each
    input vector loaded then feeding every row's phases. FSRCNN's kernel ran 2-33% faster so on
    one thread (r2 D-NN 0.16 -> 0.11 ms, r4 D-NN 0.18 -> 0.15), its modules 0.78-1.04x the time on
    two (bench/revd2_hw_choices.py --choice rows); the sweep's wide rows ran 0.89-1.77x, so they
    keep one row a workgroup."""
    return d.stride if -(-ow // d.stride) <= 2 * VECTOR_COLUMNS else 1


def kernel_operands(d: Deconv, batch: int, h: int, w: int, padded: bool = False
                    ) -> tuple[torch.Tensor, torch.Tensor, list[int], tuple]:
    """What the kernel takes beside the input: W2[C_out, C_in, r, r, T, T], the per-phase bias
    (C_out, r, r), the int32 parameter block (in revd2.c's order), and the NCHW output shape.
    ``padded``: the input it reads is padded by ``input_padding`` (its size and the shifts move)."""
    ph, pw = phases(d, h, w)
    r, co, t = d.stride, d.cout, d.taps_per_phase
    bias = d.bias if d.bias is not None else torch.zeros(co, r, r)
    top, bottom, left, right = input_padding(d, h, w) if padded else (0, 0, 0, 0)
    params = [batch, d.cin, co, h + top + bottom, w + left + right, ph.out, pw.out, r, t,
              rows_per_workgroup(d, pw.out), *(s + top for s in ph.shift), *(s + left for s in pw.shift)]
    return phase_weights(d, ph, pw), bias, params, (batch, co, ph.out, pw.out)


def revd2_hw_mlir(d: Deconv, batch: int, h: int, w: int, layout: str = "nchw") -> str:
    r, t, ci, co = d.stride, d.taps_per_phase, d.cin, d.cout
    padded = padded_ahead(ci, t, phases(d, h, w)[1].q)
    w2, bias, params, out_shape = kernel_operands(d, batch, h, w, padded)
    hp, wp = params[3], params[4]
    ph_out, pw_out = out_shape[2:]
    x_t, y_t, xp_t = _t(batch, ci, h, w), _t(*out_shape), _t(batch, ci, hp, wp)
    sizes = {"x": batch * ci * hp * wp, "w": w2.numel(), "b": bias.numel(), "p": len(params),
             "y": batch * co * ph_out * pw_out}
    objects = ", ".join(_object(a) for a in CLANG_TARGETS)
    last = layout == "nhwc"
    xin_t = _t(batch, h, w, ci) if last else x_t
    yout_t = _t(batch, ph_out, pw_out, co) if last else y_t
    subspans, metadata, call_args = [], [], []
    for name, elt in (("x", "f32"), ("w", "f32"), ("b", "f32"), ("p", "i32"), ("y", "f32")):
        subspans.append(f"        %m{name} = stream.binding.subspan %{name}b[%c0] : !stream.binding -> "
                        f"memref<{sizes[name]}x{elt}>")
        metadata.append(f"        %{name}base, %{name}off, %{name}size, %{name}stride = "
                        f"iree_codegen.extract_strided_metadata %m{name} : memref<{sizes[name]}x{elt}> -> "
                        f"memref<{elt}>, index, index, index")
        call_args.append((f"%{name}base, %{name}off", f"memref<{elt}>, index"))
    lines = [
        "module {",
        f"  stream.executable private @revd2_hw attributes {{hal.executable.objects = "
        f"#hal.executable.objects<{{{objects}}}>}} {{",
        "    stream.executable.export public @revd2 workgroups(%groups: index, %images: index) -> (index, index, index) {",
        "      %c1 = arith.constant 1 : index",
        "      stream.return %groups, %images, %c1 : index, index, index",
        "    }",
        "    builtin.module {",
        "      func.func private @revd2_workgroup(%x: memref<f32>, %xo: index, %w: memref<f32>, %wo: index, "
        "%b: memref<f32>, %bo: index, %p: memref<i32>, %po: index, %y: memref<f32>, %yo: index, "
        "%group: index, %image: index) attributes {hal.import.static, llvm.bareptr = true}",
        "      func.func @revd2(%xb: !stream.binding, %wb: !stream.binding, %bb: !stream.binding, "
        "%pb: !stream.binding, %yb: !stream.binding) {",
        "        %c0 = arith.constant 0 : index",
        "        %group = stream.dispatch.workgroup.id[0] : index",
        "        %image = stream.dispatch.workgroup.id[1] : index",
        *subspans, *metadata,
        f"        func.call @revd2_workgroup({', '.join(a for a, _ in call_args)}, %group, %image) : "
        f"({', '.join(ty for _, ty in call_args)}, index, index) -> ()",
        "        return",
        "      }",
        "    }",
        "  }",
        f"  func.func @main(%xin: {xin_t}) -> {yout_t} {{",
        f"    %w = arith.constant {_dense(w2)}",
        f"    %b = arith.constant {_dense(bias)}",
        f"    %p = arith.constant {_dense_i32(params)}",
        f"    %groups = arith.constant {-(-ph_out // rows_per_workgroup(d, pw_out))} : index",
        f"    %images = arith.constant {batch} : index",
    ]
    if last:
        lines += [f"    %xe = tensor.empty() : {x_t}",
                  f"    %x = linalg.transpose ins(%xin : {xin_t}) outs(%xe : {x_t}) permutation = [0, 3, 1, 2]"]
    src = "%x" if last else "%xin"
    if padded:
        top, bottom, left, right = input_padding(d, h, w)
        lines += ["    %zero = arith.constant 0.0 : f32",
                  f"    %xp = tensor.pad {src} low[0, 0, {top}, {left}] high[0, 0, {bottom}, {right}] {{",
                  "    ^bb0(%i0: index, %i1: index, %i2: index, %i3: index):",
                  "      tensor.yield %zero : f32",
                  f"    }} : {x_t} to {xp_t}"]
        src = "%xp"
    lines.append(f"    %y = flow.dispatch @revd2_hw::@revd2[%groups, %images]({src}, %w, %b, %p) : "
                 f"({xp_t}, {_t(co, ci, r, r, t, t)}, {_t(co, r, r)}, tensor<{len(params)}xi32>) -> {y_t}")
    if last:
        lines += [f"    %ye = tensor.empty() : {yout_t}",
                  f"    %yout = linalg.transpose ins(%y : {y_t}) outs(%ye : {yout_t}) permutation = [0, 2, 3, 1]",
                  f"    return %yout : {yout_t}"]
    else:
        lines.append(f"    return %y : {y_t}")
    lines += ["  }", "}"]
    return "\n".join(ln for ln in lines if ln) + "\n"


def counts(g):
    """REVD2's counts; its kernel fills the vector with output columns, whatever the channels. An
    input padded ahead (``padded_ahead``) adds its copy, which the paper's REVD2 does not make."""
    c = dataclasses.replace(revd2_counts(g), lanes=None, rate=None)
    lay = g.layer
    if not padded_ahead(lay.cin, g.t, g.wq):
        return c
    top, bottom, left, right = input_padding(deployed_deconv(lay, g.method, 0), lay.h, lay.w)
    copy = lay.batch * lay.cin * (lay.h + top + bottom) * (lay.w + left + right)
    return dataclasses.replace(c, traffic=(*c.traffic, *rw("zero-padded input", "intermediate", copy, False, False)),
                               note="the input is zero-padded ahead of the kernel (short rows, many channels)")
