"""Is an IREE output the trained layer's output? Shape, finiteness, then max error vs a tolerance."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RTOL = 1e-4      # relative to the largest reference value; fp32 sums of a few thousand terms sit far below
ATOL = 1e-5


@dataclass(frozen=True)
class Verdict:
    ok: bool
    max_abs_err: float | None
    tolerance: float | None
    reason: str = ""
    psnr_db: float | None = None       # against the reference, its peak |value| as the signal; None when exact


def tolerance(ref: np.ndarray) -> float:
    return ATOL + RTOL * float(np.abs(ref).max(initial=0.0))


def verify(out: np.ndarray, ref: np.ndarray, step: float = 0.0) -> Verdict:
    """``step``: one quantization step of a quantized output, allowed on top of the float tolerance (a
    rounding decision flips where float sums before it are added in another order)."""
    if out.shape != ref.shape:
        return Verdict(False, None, None, f"output shape {out.shape} != reference shape {ref.shape}")
    if not np.isfinite(out).all():
        bad = int((~np.isfinite(out)).sum())
        return Verdict(False, None, None, f"{bad} output values are NaN or Inf")
    diff = out.astype(np.float64) - ref.astype(np.float64)
    err = float(np.abs(diff).max(initial=0.0))
    tol = tolerance(ref) + step * (1 + 1e-6)
    p = psnr(ref, diff)
    if err > tol:
        return Verdict(False, err, tol, f"max error {err:.3g} exceeds tolerance {tol:.3g}", p)
    return Verdict(True, err, tol, psnr_db=p)


def psnr(ref: np.ndarray, diff: np.ndarray) -> float | None:
    """10 log10(peak^2 / MSE), peak = max |reference| (1 for an image in [0, 1]); None for no error."""
    mse = float(np.mean(np.square(diff))) if diff.size else 0.0
    peak = float(np.abs(ref).max(initial=0.0))
    if mse == 0.0 or peak == 0.0:
        return None
    return 10 * np.log10(peak * peak / mse)
