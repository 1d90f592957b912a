"""ncu: Nsight Compute's DRAM bytes read and written per kernel (dram__bytes_read.sum,
dram__bytes_write.sum), for the CUDA target on a machine with an NVIDIA GPU and ncu installed."""
from __future__ import annotations

import csv
import io
import shutil
import subprocess

from targets import Availability
from targets.collectors import Collector, CounterValue, register

METRICS = ("dram__bytes_read.sum", "dram__bytes_write.sum")
_UNITS = {"byte": 1, "kbyte": 1e3, "mbyte": 1e6, "gbyte": 1e9, "kibyte": 1024, "mibyte": 1024 ** 2,
          "gibyte": 1024 ** 3}


def _probe() -> Availability:
    if not shutil.which("ncu"):
        return Availability(False, "Nsight Compute (ncu) is not installed")
    if not shutil.which("nvidia-smi"):
        return Availability(False, "no NVIDIA driver (nvidia-smi not found)")
    return Availability(True, "NVIDIA GPU DRAM counters through Nsight Compute")


def parse_ncu_csv(text: str) -> list[dict]:
    """`ncu --csv --metrics ...` output -> [{'kernel', 'metric', 'bytes'}] (units normalised)."""
    lines = [ln for ln in text.splitlines() if ln.startswith('"')]    # ncu prefixes its own log lines with ==
    rows = []
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        metric = row.get("Metric Name")
        if metric not in METRICS:
            continue
        unit = (row.get("Metric Unit") or "byte").strip().lower()
        value = float(row["Metric Value"].replace(",", ""))
        rows.append({"kernel": row.get("Kernel Name", "?"), "id": row.get("ID"), "metric": metric,
                     "bytes": value * _UNITS.get(unit, 1)})
    return rows


def _collect(ctx) -> list[CounterValue]:
    cmd = ["ncu", "--csv", "--metrics", ",".join(METRICS), *ctx.command()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=ctx.timeout * 20)
    out = []
    for r in parse_ncu_csv(proc.stdout):
        name = "dram_bytes_read" if r["metric"].endswith("read.sum") else "dram_bytes_written"
        out.append(CounterValue(name, r["bytes"], "B", "hardware", False, "ncu", f"{r['id']}:{r['kernel']}"))
    return out


NCU = register(Collector("ncu", "hardware", "NVIDIA DRAM bytes per kernel (Nsight Compute)", _probe, _collect,
                         cost="cheap"))
