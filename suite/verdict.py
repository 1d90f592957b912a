"""The suite's answer per layer: is the deconvolution form faster than the convolution it was
trained as? Computed from a record alone, so `suite run`, `suite show` and old records agree.

For each layer (all layouts and presets of it together) and each pair (D-SP over C-SP, D-NN over
C-NN): the best verified row of each side by median latency, the measured speed-up (median of the
trained form over median of the deployed one) with a 95% bootstrap confidence interval from both
rows' samples, the model's predicted ratio for the same two rows, the paper's ratio where the layer
is the paper's, the bytes ratios (static from the compiled modules, simulated where collected,
model), and one sentence: holds, does not hold, or inconclusive, naming the lowering and, where
cpu-samples or dispatch-times were collected, the dispatch that takes the most time on the slower side.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from suite.rounds import SPLIT_RATIO
from suite.rows import Row, as_row

PAIRS = (("D-SP", "C-SP"), ("D-NN", "C-NN"), ("deployed", "trained"))     # the last: whole networks
LAYOUT_SUFFIXES = ("-nhwc-blocked", "-nhwc")
# Colbert et al. 2021, ESPCN case study: the deconvolution's speed-up over the sub-pixel and the
# nearest resize convolution (upsampling.md, the paper's headline numbers)
PAPER_RATIOS = {"espcn": {"D-SP": 2.1, "D-NN": 2.8}}
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Verdict:
    layer: str                      # layer id without its layout
    layer_name: str | None
    deployed: str                   # D-SP | D-NN
    trained: str                    # C-SP | C-NN
    deployed_row: str               # "D-SP TDCF [preset] layout"
    trained_row: str
    speedup: float                  # trained median / deployed median (> 1: the deconvolution is faster)
    ci_low: float
    ci_high: float
    model_ratio: float | None       # the model's predicted trained / deployed time for the same rows
    paper_ratio: float | None
    static_bytes_ratio: float | None     # trained / deployed, iree-static (bytes every dispatch binds)
    simulated_bytes_ratio: float | None  # trained / deployed, cachegrind DRAM bytes
    model_bytes_ratio: float | None
    outcome: str                    # holds | does not hold | inconclusive
    sentence: str

    def to_json(self) -> dict:
        return asdict(self)


def base_layer(layer_id: str) -> str:
    for suffix in LAYOUT_SUFFIXES:
        if layer_id.endswith(suffix):
            return layer_id[: -len(suffix)]
    return layer_id


def _layout(layer_id: str) -> str:
    return next((s[1:] for s in LAYOUT_SUFFIXES if layer_id.endswith(s)), "nchw")


def _median(row: Row) -> float:
    return float(np.median(row.timed_samples))


def _best(rows: list[Row], method: str) -> Row | None:
    timed = [r for r in rows if r.method == method and r.ok and len(r.timed_samples) >= 2]
    return min(timed, key=_median, default=None)


def describe(row: Row | dict) -> str:
    from workloads.algorithms import algorithm_label
    row = as_row(row)
    parts = [row.method] + ([algorithm_label(row.algorithm)] if row.algorithm else [])
    if row.preset != "default":
        parts.append(f"[{row.preset}]")
    layout = row.layout or _layout(row.layer)
    if layout != "nchw":
        parts.append(layout)
    if row.form:
        parts.append(row.form)
    return " ".join(parts)


def ratio_ci(trained: list[float], deployed: list[float], confidence: float = CONFIDENCE,
             n_resamples: int = 4000, seed: int = 0) -> tuple[float, float, float]:
    """Median(trained) / median(deployed) and its percentile bootstrap interval (the two sample sets
    resampled independently: they come from separate processes)."""
    from scipy.stats import bootstrap
    a, b = np.asarray(trained, float), np.asarray(deployed, float)

    def stat(x, y, axis=-1):
        return np.median(x, axis=axis) / np.median(y, axis=axis)

    res = bootstrap((a, b), stat, paired=False, vectorized=True, confidence_level=confidence,
                    n_resamples=n_resamples, method="percentile", rng=np.random.default_rng(seed))
    return float(stat(a, b)), float(res.confidence_interval.low), float(res.confidence_interval.high)


def _bytes(row: Row, kind: str) -> float | None:
    """The row's bytes of one kind ("static", "simulated DRAM"), from the collector that reports it."""
    from targets.collectors import traffic_column
    found = traffic_column(kind)
    return None if found is None else row.counter_total(found[0], found[1].names)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _top_dispatch(row: Row) -> str | None:
    """The dispatch the row spends most in: by its sampled CPU time, else by its measured wall time."""
    shares = row.dispatch_values("cpu-samples", "cpu_share")
    if shares:
        share, name = max(shares)
        return f"{name} ({share:.0%} of its CPU time)"
    walls = row.dispatch_values("dispatch-times", "dispatch_ms")
    if walls:
        ms, name = max(walls)
        return f"{name} ({ms:.3g} ms, {ms / sum(v for v, _ in walls):.0%} of its dispatches' wall time)"
    return None


def _by_layer(rows: list) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {}
    for r in map(as_row, rows):
        out.setdefault(base_layer(r.layer), []).append(r)
    return out


def verdicts(rows: list) -> list[Verdict]:
    """One verdict per layer and pair that has a timed, verified row on both sides (IREE's rows)."""
    out = []
    for layer, group in _by_layer([r for r in map(as_row, rows) if not r.is_peer]).items():
        name = next((r.layer_name for r in group if r.layer_name), None)
        name = base_layer(name) if name else None
        for deployed, trained in PAIRS:
            d, t = _best(group, deployed), _best(group, trained)
            if d is None or t is None:
                continue
            speedup, low, high = ratio_ci(t.timed_samples, d.timed_samples)
            model = _ratio(t.model_ms, d.model_ms)
            static = _ratio(_bytes(t, "static"), _bytes(d, "static"))
            simulated = _ratio(_bytes(t, "simulated DRAM"), _bytes(d, "simulated DRAM"))
            model_bytes = _ratio(t.model_bytes, d.model_bytes)
            paper = PAPER_RATIOS.get(name or "", {}).get(deployed)
            outcome, sentence = _sentence(d, t, speedup, low, high, paper)
            out.append(Verdict(layer, name, deployed, trained, describe(d), describe(t), speedup, low, high, model,
                               paper, static, simulated, model_bytes, outcome, sentence))
    return out


def _sentence(d: Row, t: Row, speedup: float, low: float, high: float, paper: float | None) -> tuple[str, str]:
    ci = f"{speedup:.2f}x, 95% CI {low:.2f}-{high:.2f}"
    claim = f"{d.method} faster than {t.method}?"
    if low > 1:
        outcome = "holds"
        text = f"holds: {describe(d)} is faster than {describe(t)} ({ci})"
    elif high < 1:
        outcome = "does not hold"
        text = f"does not hold: {describe(d)} is slower than {describe(t)} ({ci})"
    else:
        outcome = "inconclusive"
        text = f"inconclusive: {describe(d)} against {describe(t)} ({ci}) cannot be told apart from equal"
    if paper is not None:
        text += f"; the paper reports {paper:.1f}x"
    slower = d if speedup < 1 else t
    top = _top_dispatch(slower)
    if outcome != "holds" or (paper is not None and speedup < paper):
        text += (f"; most of {describe(slower)}'s time is in {top}" if top else
                 f"; run with --counters dispatch-times to see where {describe(slower)}'s time goes")
    # rows the machine slowed for part of their timing (suite.rounds): their slower rounds are set aside
    # from the samples compared (suite.stats.settle), and which rounds were the machine's own speed is less sure
    unsettled = [f"{describe(r)} {r.rounds_apart:.2f}x" for r in (d, t) if (r.rounds_apart or 0) > SPLIT_RATIO]
    if unsettled:
        text += f"; rounds apart (the slower set aside), so less sure than the interval says: {', '.join(unsettled)}"
    return outcome, f"{claim} {text}"


def summary(vs: list[Verdict]) -> dict:
    """Counts of each outcome over the whole run."""
    return {o: sum(v.outcome == o for v in vs) for o in ("holds", "does not hold", "inconclusive")}


def runtime_ratios(rows: list) -> list[dict]:
    """Per layer and pair: the speed-up (with its 95% interval) in IREE and in each peer runtime."""
    out = []
    for layer, group in _by_layer(rows).items():
        if not any(r.is_peer for r in group):
            continue
        name = next((base_layer(r.layer_name) for r in group if r.layer_name), layer)
        for deployed, trained in PAIRS:                 # whole networks too, as trained and deployed
            ratios = {}
            for runtime in dict.fromkeys(r.runtime_label for r in group):
                mine = [r for r in group if r.runtime_label == runtime]
                d, t = _best(mine, deployed), _best(mine, trained)
                if d is not None and t is not None:
                    ratios[runtime] = ratio_ci(t.timed_samples, d.timed_samples, n_resamples=2000)
            if ratios:
                out.append({"layer": name, "claim": f"{deployed} vs {trained}", "ratios": ratios})
    return out


def record_verdict(record: dict) -> dict:
    """The record's verdict entry: IREE's rows judged per layer, unless the times are qemu's."""
    from suite.rows import Record
    rec = Record(record)
    if rec.under_qemu:
        return {"layers": [], "summary": {}, "note": "emulated run: latencies are not device times, so the claim "
                                                     "is not judged"}
    vs = verdicts(rec.iree_rows)                      # the peers have rows of their own
    return {"layers": [v.to_json() for v in vs], "summary": summary(vs)}
