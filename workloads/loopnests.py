"""Plain-Python loop nests of every method and algorithm, instrumented: they execute the paper's
loop nests (upsampling.md section 5) on tiny shapes, produce the real output, and record the MAC
slots they run and the distinct elements they read and write per tensor. They are the
independent check of the analytical model's formulas (tests/test_model.py), not a fast path.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from workloads.layer import LayerConfig
from workloads.transforms import Deconv


class Tracker:
    """Counts MAC slots and the distinct elements read / written, per tensor."""

    def __init__(self):
        self.macs = 0
        self.reads: dict[str, set] = defaultdict(set)
        self.writes: dict[str, set] = defaultdict(set)

    def read(self, name: str, arr: np.ndarray, idx: tuple):
        self.reads[name].add(idx)
        return arr[idx]

    def write(self, name: str, arr: np.ndarray, idx: tuple, value) -> None:
        self.writes[name].add(idx)
        arr[idx] = value

    def accumulate(self, name: str, arr: np.ndarray, idx: tuple, value) -> None:
        self.writes[name].add(idx)
        arr[idx] += value

    def distinct(self) -> dict[tuple[str, str], int]:
        out = {(k, "read"): len(v) for k, v in self.reads.items()}
        out.update({(k, "write"): len(v) for k, v in self.writes.items()})
        return out


def _conv(tr: Tracker, xname: str, x: np.ndarray, wname: str, w: np.ndarray, yname: str, pads) -> np.ndarray:
    """Stride-1 cross-correlation with (top, bottom, left, right) zero padding."""
    n, ci, h, wd = x.shape
    co, _, kh_, kw_ = w.shape
    t, b, l, r = pads
    oh, ow = h + t + b - kh_ + 1, wd + l + r - kw_ + 1
    y = np.zeros((n, co, oh, ow))
    for b_ in range(n):
        for o in range(co):
            for i in range(oh):
                for j in range(ow):
                    acc = 0.0
                    for c in range(ci):
                        for p in range(kh_):
                            for q in range(kw_):
                                tr.macs += 1
                                ih, iw = i + p - t, j + q - l
                                if 0 <= ih < h and 0 <= iw < wd:
                                    acc += tr.read(xname, x, (b_, c, ih, iw)) * tr.read(wname, w, (o, c, p, q))
                    tr.write(yname, y, (b_, o, i, j), acc)
    return y


def trained(layer: LayerConfig, method: str, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, Tracker]:
    """C-SP, C-NN (bias-free: the model does not count bias traffic)."""
    tr, r = Tracker(), layer.r
    if method == "C-SP":
        conv = _conv(tr, "input", x, "weights", w, "conv output (before pixel shuffle)", layer.pads)
        n, c4, hc, wc = conv.shape
        co = c4 // (r * r)
        y = np.zeros((n, co, hc * r, wc * r))
        for idx in np.ndindex(*y.shape):
            b, c, h, w_ = idx
            src = (b, r * r * c + r * (h % r) + (w_ % r), h // r, w_ // r)
            tr.write("output", y, idx, tr.read("conv output (before pixel shuffle)", conv, src))
        return y, tr
    if method == "C-NN":
        n, ci, h, w_ = x.shape
        up = np.zeros((n, ci, h * r, w_ * r))
        for idx in np.ndindex(*up.shape):
            b, c, i, j = idx
            tr.write("resized image", up, idx, tr.read("input", x, (b, c, i // r, j // r)))
        return _conv(tr, "resized image", up, "weights", w, "output", layer.pads), tr
    raise ValueError(method)


def _out(d: Deconv, x: np.ndarray) -> tuple[int, int, np.ndarray]:
    oh, ow = d.out_hw(x.shape[2], x.shape[3])
    return oh, ow, np.zeros((x.shape[0], d.cout, oh, ow))


def stdd(d: Deconv, x: np.ndarray) -> tuple[np.ndarray, Tracker]:
    tr, S, K = Tracker(), d.stride, d.kernel
    ct, cl = d.crop[0], d.crop[2]
    oh, ow, y = _out(d, x)
    n, ci, h, w = x.shape
    for b in range(n):
        for oc in range(d.cout):
            for ic in range(ci):
                for kh in range(K):
                    for kw in range(K):
                        for ih in range(h):
                            for iw in range(w):
                                tr.macs += 1
                                o_h, o_w = S * ih + kh - ct, S * iw + kw - cl
                                if 0 <= o_h < oh and 0 <= o_w < ow:
                                    v = tr.read("input", x, (b, ic, ih, iw)) * tr.read("weights", d.weight, (ic, oc, kh, kw))
                                    tr.accumulate("output", y, (b, oc, o_h, o_w), v)
    return y, tr


def revd(d: Deconv, x: np.ndarray) -> tuple[np.ndarray, Tracker]:
    tr, S, K = Tracker(), d.stride, d.kernel
    ct, cl = d.crop[0], d.crop[2]
    oh, ow, y = _out(d, x)
    n, ci, h, w = x.shape
    for b in range(n):
        for oc in range(d.cout):
            for ic in range(ci):
                for kh in range(K):
                    for kw in range(K):
                        for oh_ in range(0, oh, S):
                            for ow_ in range(0, ow, S):
                                tr.macs += 1
                                o_h = oh_ + (kh - ct) % S         # the only phase tap kh reaches
                                o_w = ow_ + (kw - cl) % S
                                ih, iw = (o_h + ct - kh) // S, (o_w + cl - kw) // S
                                if o_h < oh and o_w < ow and 0 <= ih < h and 0 <= iw < w:
                                    v = tr.read("input", x, (b, ic, ih, iw)) * tr.read("weights", d.weight, (ic, oc, kh, kw))
                                    tr.accumulate("output", y, (b, oc, o_h, o_w), v)
    return y, tr


def revd2(d: Deconv, x: np.ndarray) -> tuple[np.ndarray, Tracker]:
    tr, S, K = Tracker(), d.stride, d.kernel
    ct, cl = d.crop[0], d.crop[2]
    oh, ow, y = _out(d, x)
    n, ci, h, w = x.shape
    for b in range(n):
        for oc in range(d.cout):
            fh = ct % S                                           # kernel offset counters, no modulo inside
            for o_h in range(oh):
                fw = cl % S
                for o_w in range(ow):
                    acc = 0.0
                    for ic in range(ci):
                        for kh_ in range(0, K, S):
                            for kw_ in range(0, K, S):
                                tr.macs += 1
                                kh, kw = kh_ + fh, kw_ + fw
                                ih, iw = (o_h + ct - kh) // S, (o_w + cl - kw) // S
                                if kh < K and kw < K and 0 <= ih < h and 0 <= iw < w:
                                    acc += tr.read("input", x, (b, ic, ih, iw)) * tr.read("weights", d.weight, (ic, oc, kh, kw))
                    tr.write("output", y, (b, oc, o_h, o_w), acc)
                    fw = fw + 1 if fw + 1 < S else 0
                fh = fh + 1 if fh + 1 < S else 0
    return y, tr


def strd(d: Deconv, x: np.ndarray) -> tuple[np.ndarray, Tracker]:
    tr, S, K = Tracker(), d.stride, d.kernel
    n, ci, h, w = x.shape
    z = np.zeros((n, ci, (h - 1) * S + 1, (w - 1) * S + 1))
    for idx in np.ndindex(*z.shape):                              # zero insertion writes every element
        b, c, i, j = idx
        v = tr.read("input", x, (b, c, i // S, j // S)) if i % S == 0 and j % S == 0 else 0.0
        tr.write("zero-inserted image", z, idx, v)
    wf = np.ascontiguousarray(np.flip(d.weight, (2, 3)).transpose(1, 0, 2, 3))
    ct, cb, cl, cr = d.crop
    pads = (K - 1 - ct, K - 1 - cb, K - 1 - cl, K - 1 - cr)
    # the flipped kernel is a view of the same weights: count reads in the original layout
    tr2 = Tracker()
    y = _conv(tr2, "zero-inserted image", z, "weights", wf, "output", pads)
    tr.macs += tr2.macs
    for key in ("zero-inserted image",):
        tr.reads[key] |= tr2.reads[key]
    tr.reads["weights"] = {(o, c, K - 1 - p, K - 1 - q) for (c, o, p, q) in tr2.reads["weights"]}
    tr.writes["output"] = tr2.writes["output"]
    return y, tr


def _phase_subkernels(d: Deconv, ci: int) -> np.ndarray:
    """sub[a, b, oc, ic, j, i] = W[ic, oc, r*j + p_a, r*i + p_b], zero past the kernel (TDC's weights)."""
    S, K, T = d.stride, d.kernel, -(-d.kernel // d.stride)
    ct, cl = d.crop[0], d.crop[2]
    sub = np.zeros((S, S, d.cout, ci, T, T))
    for a in range(S):
        for bb in range(S):
            pa, pb = (a + ct) % S, (bb + cl) % S
            for j in range(T):
                for i in range(T):
                    if S * j + pa < K and S * i + pb < K:
                        sub[a, bb, :, :, j, i] = d.weight[:, :, S * j + pa, S * i + pb].T
    return sub


def _interleave(tr: Tracker, name: str, phased: np.ndarray, y: np.ndarray, S: int) -> None:
    """Pixel shuffle: read every phase output [b, oc, a, b', q, p], write the ones inside the crop."""
    _, _, oh, ow = y.shape
    for idx in np.ndindex(*phased.shape):
        b, oc, a, bb, q, p = idx
        v = tr.read(name, phased, idx)
        if q * S + a < oh and p * S + bb < ow:
            tr.write("output", y, (b, oc, q * S + a, p * S + bb), v)


def tdc(d: Deconv, x: np.ndarray) -> tuple[np.ndarray, Tracker]:
    """r^2 LR convolutions with padded sub-kernels, then interleave (cropped coordinates)."""
    tr, S = Tracker(), d.stride
    T = -(-d.kernel // S)
    n, ci, h, w = x.shape
    oh, ow, y = _out(d, x)
    hq, wq = -(-oh // S), -(-ow // S)
    sub = _phase_subkernels(d, ci)
    subout = np.zeros((n, d.cout, S, S, hq, wq))
    for b in range(n):
        for a in range(S):
            for bb in range(S):
                sa, sb = (a + d.crop[0]) // S, (bb + d.crop[2]) // S
                for oc in range(d.cout):
                    for q in range(hq):
                        for p in range(wq):
                            acc = 0.0
                            for ic in range(ci):
                                for j in range(T):
                                    for i in range(T):
                                        tr.macs += 1
                                        wv = tr.read("weights", sub, (a, bb, oc, ic, j, i))
                                        ih, iw = q + sa - j, p + sb - i
                                        if 0 <= ih < h and 0 <= iw < w:
                                            acc += tr.read("input", x, (b, ic, ih, iw)) * wv
                            tr.write("phase sub-outputs", subout, (b, oc, a, bb, q, p), acc)
    _interleave(tr, "phase sub-outputs", subout, y, S)
    return y, tr


def tdcf(d: Deconv, x: np.ndarray) -> tuple[np.ndarray, Tracker]:
    """TDC fused: one LR convolution to r^2*C_out channels over a shared window, then interleave."""
    tr, S = Tracker(), d.stride
    T = -(-d.kernel // S)
    n, ci, h, w = x.shape
    oh, ow, y = _out(d, x)
    hq, wq = -(-oh // S), -(-ow // S)
    sh = [(a + d.crop[0]) // S for a in range(S)]
    sw = [(b + d.crop[2]) // S for b in range(S)]
    th, tw = T + max(sh) - min(sh), T + max(sw) - min(sw)
    sub = _phase_subkernels(d, ci)
    big = np.zeros((d.cout, S, S, ci, th, tw))                    # the fused kernel, shifts folded in
    for a in range(S):
        for bb in range(S):
            for j in range(T):
                for i in range(T):
                    big[:, a, bb, :, sh[a] - min(sh) + T - 1 - j, sw[bb] - min(sw) + T - 1 - i] = sub[a, bb, :, :, j, i]
    conv = np.zeros((n, d.cout, S, S, hq, wq))
    for idx in np.ndindex(n, d.cout, S, S, hq, wq):
        b, oc, a, bb, q, p = idx
        acc = 0.0
        for ic in range(ci):
            for u in range(th):
                for v in range(tw):
                    tr.macs += 1
                    wv = tr.read("weights", big, (oc, a, bb, ic, u, v))
                    ih, iw = q + min(sh) - (T - 1) + u, p + min(sw) - (T - 1) + v
                    if 0 <= ih < h and 0 <= iw < w:
                        acc += tr.read("input", x, (b, ic, ih, iw)) * wv
        tr.write("fused conv output (before pixel shuffle)", conv, idx, acc)
    _interleave(tr, "fused conv output (before pixel shuffle)", conv, y, S)
    return y, tr

