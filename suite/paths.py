"""Where the suite keeps what it stores, defined once, and the one way to find a stored run."""
from __future__ import annotations

from pathlib import Path

from suite.errors import UserError

RESULTS_DIR = Path("results/runs")            # run records
PROFILES_DIR = Path("results/profiles")       # calibrated device profiles
BASELINES_DIR = Path("results/baselines")     # named baselines for `suite check`
TUNING_DIR = Path("results/tuning")           # tuning databases, one per testbed


def stored_runs(results_dir: Path = RESULTS_DIR) -> list[Path]:
    """Every run record in ``results_dir``, oldest first."""
    return sorted(Path(results_dir).glob("*.json"), key=lambda q: q.stat().st_mtime)


def find_run(spec: str, results_dir: Path = RESULTS_DIR) -> Path:
    """A run record by path, run id (or a unique prefix of it), or 'latest'."""
    p = Path(spec)
    if p.suffix == ".json" or p.exists():
        return p
    runs = stored_runs(results_dir)
    if spec == "latest":
        if not runs:
            raise UserError(f"no run records in {results_dir}")
        return runs[-1]
    hits = [q for q in runs if q.name.startswith(spec)]
    if len(hits) != 1:
        raise UserError(f"{'no' if not hits else 'more than one'} run in {results_dir} matches {spec!r}")
    return hits[0]
