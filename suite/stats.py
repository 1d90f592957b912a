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
    meds, i = [], 0
    for n in rounds:
        if n:
            meds.append(float(np.median(samples[i:i + n])))
        i += n
    return meds


def rounds_apart(samples: list[float], rounds: list[int]) -> float | None:
    """The slowest round's median over the fastest's; None with fewer than two rounds."""
    meds = round_medians(samples, rounds)
    return max(meds) / min(meds) if len(meds) > 1 and min(meds) > 0 else None
