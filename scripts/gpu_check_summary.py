"""The figures of one `scripts/gpu-check.sh` run, from its folder, as one JSON for the report.

    python scripts/gpu_check_summary.py results/bench/gpu-check results/bench/gpu-check.json

Runs per GPU: the fewest concurrent trainings whose total throughput reaches 95% of the best
measured (more only add waiting, and memory).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spen.device_batch import fewest_enough  # noqa: E402


def concurrency(folder: Path) -> list[dict[str, Any]]:
    """Per number of concurrent trainings: each one's sentences/s, their sum, the peak memory."""
    rows = []
    for count in sorted({int(p.name.split("-")[1]) for p in folder.glob("concurrent-*.json")}):
        runs = [json.loads(p.read_text()) for p in folder.glob(f"concurrent-{count}-*.json")]
        training = [row for run in runs for row in run["training"]]
        each = [row["sentences_per_second"] for row in training]
        peaks = [row.get("peak_gpu_memory_mb") for row in training]
        rows.append(
            {
                "runs": count,
                "sentences_per_second_each": each,
                "sentences_per_second_total": sum(each),
                "peak_memory_mb_each": max((p for p in peaks if p is not None), default=None),
            }
        )
    return rows


def summary(folder: Path) -> dict[str, Any]:
    """Everything the check measured, read from its folder."""
    torch_version, _, device = (folder / "device.txt").read_text().strip().partition(" ")
    steps = {}
    for line in (folder / "steps.txt").read_text().splitlines():
        name, seconds = line.rsplit(" ", 1)
        steps[name] = int(seconds)
    rows = concurrency(folder)
    smoke = folder / "smoke-seconds.txt"
    return {
        "device": device,
        "torch": torch_version,
        "steps_seconds_since_start": steps,
        "wall_seconds": max(steps.values(), default=0),
        "bench": {
            p.stem.removeprefix("bench-"): json.loads(p.read_text())
            for p in sorted(folder.glob("bench-*.json"))
        },
        "concurrency": rows,
        "runs_per_gpu": fewest_enough(rows),
        "smoke_wall_seconds": int(smoke.read_text()) if smoke.is_file() else None,
    }


if __name__ == "__main__":
    Path(sys.argv[2]).write_text(json.dumps(summary(Path(sys.argv[1])), indent=2) + "\n")
