"""How long a pipeline run took, read from the log Snakemake writes (`.snakemake/log/*.log`,
or its standard error): wall time, cores, jobs per rule and each rule's job time.

Snakemake stamps each job's start (``[date]`` then ``rule NAME:`` ... ``jobid: N``) and end
(``[date]`` then ``Finished jobid: N (Rule: NAME)``); the wall time runs from the first stamp to
the last. A run that did not reach ``(100%) done`` is reported as incomplete.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
START = re.compile(r"^(?:local)?rule (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")
CORES = re.compile(r"^Provided cores: (\d+)$")
COMMAND = re.compile(r"^\s+Command: (.*)$")
PLATFORM = re.compile(r"^\s+Platform: (.*)$")
DONE = re.compile(r"^(\d+) of (\d+) steps \((\d+)%\) done$")


class PipelineLogError(ValueError):
    """The file is not a Snakemake log this module can read."""


def summarise_log(path: Path) -> dict[str, Any]:
    """Wall time, cores, and per-rule job counts and job seconds of the run `path` logs."""
    stamp: datetime | None = None
    first: datetime | None = None
    pending_rule: str | None = None
    started: dict[str, datetime] = {}
    per_rule: dict[str, dict[str, float]] = {}
    info: dict[str, Any] = dict.fromkeys(("cores", "command", "platform", "steps", "total_steps"))
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if match := STAMP.match(line):
            stamp = datetime.strptime(" ".join(match.group(1).split()), "%a %b %d %H:%M:%S %Y")
            first = first or stamp
        elif match := START.match(line):
            pending_rule = match.group(1)
        elif (match := JOBID.match(line)) and pending_rule and stamp:
            started[match.group(1)] = stamp
            pending_rule = None
        elif (match := FINISHED.match(line)) and stamp:
            begun = started.pop(match.group(1), None)
            entry = per_rule.setdefault(match.group(2), {"jobs": 0, "seconds": 0.0, "max": 0.0})
            seconds = (stamp - begun).total_seconds() if begun else 0.0
            entry["jobs"] += 1
            entry["seconds"] += seconds
            entry["max"] = max(entry["max"], seconds)
        elif match := CORES.match(line):
            info["cores"] = int(match.group(1))
        elif (match := COMMAND.match(line)) and info["command"] is None:
            info["command"] = match.group(1)
        elif (match := PLATFORM.match(line)) and info["platform"] is None:
            info["platform"] = match.group(1)
        elif match := DONE.match(line):
            info["steps"], info["total_steps"] = int(match.group(1)), int(match.group(2))
    if first is None or stamp is None:
        raise PipelineLogError(f"{path}: no Snakemake job stamps ([date] lines) found")
    return {
        "log": path.name,
        "start": first.isoformat(),
        "end": stamp.isoformat(),
        "wall_seconds": (stamp - first).total_seconds(),
        "complete": info["steps"] is not None and info["steps"] == info["total_steps"],
        **info,
        "rules": per_rule,
        "job_seconds": sum(entry["seconds"] for entry in per_rule.values()),
    }
