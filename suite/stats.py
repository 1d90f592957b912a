"""Pure statistics over timing samples (no I/O)."""
from __future__ import annotations

import numpy as np


def summarize(samples: list[float]) -> dict[str, float]:
    """Median, quartiles, IQR, p90, mean, stdev, CV, min, max of a list of samples."""
    a = np.asarray(samples, dtype=float)
    if a.size == 0:
        raise ValueError("no samples")
    q1, med, q3, p90 = np.percentile(a, [25, 50, 75, 90])
    mean = float(a.mean())
    stdev = float(a.std(ddof=1)) if a.size > 1 else 0.0
    return {"n": int(a.size), "median": float(med), "q1": float(q1), "q3": float(q3),
            "iqr": float(q3 - q1), "p90": float(p90), "mean": mean, "stdev": stdev,
            "cv": stdev / mean if mean else float("nan"), "min": float(a.min()), "max": float(a.max())}


def round_medians(samples: list[float], rounds: list[int]) -> list[float]:
    """The median of each round's samples, for a row timed in rounds (``rounds``: samples per round,
    in the order taken); rounds that took none are left out."""
    return [float(np.median(samples[i:i + n])) for i, n in _spans(rounds) if n]


def settle(samples: list[float], rounds: list[int], ratio: float) -> tuple[list[float], list[int]]:
    """The samples a row's statistics are taken from, and the rounds left out (indexes into
    ``rounds``): a round whose median is over ``ratio`` x the fastest round's was slowed by something
    outside the workload, since noise on a shared machine only ever adds time (Chen & Revels,
    "Robust benchmarking in noisy environments", 2016). Without rounds, every sample."""
    if len(rounds) < 2 or sum(rounds) != len(samples):
        return list(samples), []
    meds = {j: float(np.median(samples[i:i + n])) for j, (i, n) in enumerate(_spans(rounds)) if n}
    fastest = min(meds.values())
    out = sorted(j for j, m in meds.items() if m > ratio * fastest)
    return kept_samples(samples, rounds, out), out


def kept_samples(samples: list[float], rounds: list[int], left_out: list[int]) -> list[float]:
    """The samples of the rounds not left out (``settle``'s choice, as a record keeps it)."""
    if not left_out or sum(rounds) != len(samples):
        return list(samples)
    return [x for j, (i, n) in enumerate(_spans(rounds)) if j not in left_out for x in samples[i:i + n]]


def _spans(rounds: list[int]) -> list[tuple[int, int]]:
    """(first sample, samples) of each round."""
    starts = np.cumsum([0, *rounds[:-1]]).tolist()
    return list(zip(starts, rounds))


def rounds_apart(samples: list[float], rounds: list[int]) -> float | None:
    """The slowest round's median over the fastest's; None with fewer than two rounds."""
    meds = round_medians(samples, rounds)
    return max(meds) / min(meds) if len(meds) > 1 and min(meds) > 0 else None
