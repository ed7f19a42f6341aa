"""Checks of a smoke run through Slurm (.ci/slurm-smoke.sh): the outputs and who ran the jobs.

    python .ci/slurm/check_smoke.py --log snakemake.log --jobcomp STATE/jobcomp.log \
        --profile workflow/profiles/slurm/config.yaml --since EPOCH --run-profile smoke

Run in the workflow's directory (it reads params/ and the outputs there). Fails (exit 1) unless

- every run of the run profile has its results/.../test.json and results/summary.json has a
  group for it, all written after --since;
- every job of Snakemake's job table but the target rule `all` was submitted with sbatch
  (the executor's "Job N has been submitted with SLURM jobid M (log: ...)" lines), none ran
  as a local rule;
- Slurm recorded each of those Slurm jobs (jobcomp/filetxt) under the executor's run ID, as
  COMPLETED with exit code 0:0, in the partition the profile gives its rule.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

from spen import layout
from spen.config import load_params

SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.")
LOCAL = re.compile(r"^localrule (\w+):", re.M)
RUN_ID = re.compile(r"SLURM run ID: (\S+)")
TARGET_RULES = {"all"}


def job_table(log: str) -> Counter:
    """Snakemake's "Job stats" table (rule -> count), from the first one in the log."""
    lines = log[log.index("Job stats:") :].splitlines()[3:]
    table = Counter()
    for line in lines:
        name, _, count = line.rpartition(" ")
        if name.strip() == "total":
            return table
        table[name.strip()] = int(count)
    raise ValueError("no end of the job table")


def jobcomp_records(path: Path) -> dict[str, dict[str, str]]:
    """jobcomp/filetxt's records: Slurm job id -> {field: value}."""
    records = {}
    for line in path.read_text().splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "JobId" in fields:
            records[fields["JobId"]] = fields
    return records


def rule_partitions(profile: Path) -> tuple[str, dict[str, str]]:
    """The profile's default partition and its per-rule ones."""
    config = yaml.safe_load(profile.read_text())
    default = (config.get("default-resources") or {}).get("slurm_partition", "")
    per_rule = {
        rule: res["slurm_partition"]
        for rule, res in (config.get("set-resources") or {}).items()
        if "slurm_partition" in res
    }
    return default, per_rule


def check(args: argparse.Namespace) -> list[str]:
    errors = []
    params = load_params("params")
    runs = layout.runs(params, args.run_profile)
    root = Path(layout.profile_root(params, args.run_profile))  # where the profile writes
    summary = root / layout.SUMMARY

    # The outputs.
    for path in [root / run.path(layout.SCORES) for run in runs] + [summary]:
        p = Path(path)
        if not p.is_file():
            errors.append(f"missing output {path}")
        elif p.stat().st_mtime < args.since:
            errors.append(f"{path} is older than this run")
        else:
            try:
                json.loads(p.read_text())
            except ValueError as err:
                errors.append(f"{path}: not JSON ({err})")
    if summary.is_file():
        groups = json.loads(summary.read_text()).get("groups", {})
        for run in runs:
            if f"{run.task}/{run.variant}" not in groups:
                errors.append(f"{summary} has no group {run.task}/{run.variant}")

    # The jobs: every one submitted to Slurm, finished there without error.
    log = args.log.read_text()
    table = job_table(log)
    submitted = [(m[1], m[2], m[3]) for m in SUBMITTED.finditer(log)]
    rule_of = {}
    for _, slurm_id, slurm_log in submitted:
        found = re.search(r"/rule_(\w+)/", slurm_log)
        rule_of[slurm_id] = found[1] if found else "?"
    per_rule = Counter(rule_of.values())
    for rule, count in table.items():
        if rule in TARGET_RULES:
            continue
        if per_rule[rule] != count:
            errors.append(f"rule {rule}: {count} job(s), {per_rule[rule]} submitted to Slurm")
    run_id = RUN_ID.search(log)
    if run_id is None:
        errors.append("no 'SLURM run ID' in the log: was the slurm executor used?")
    local = set(LOCAL.findall(log)) - TARGET_RULES
    if local:
        errors.append(f"rules run locally, not through Slurm: {', '.join(sorted(local))}")

    records = jobcomp_records(args.jobcomp) if args.jobcomp.is_file() else {}
    default, partitions = rule_partitions(args.profile)
    print(f"{'slurm job':>9}  {'rule':<11} {'partition':<10} {'state':<10} {'exit':<5} resources")
    for slurm_id, rule in sorted(rule_of.items(), key=lambda item: int(item[0])):
        rec = records.get(slurm_id)
        if rec is None:
            errors.append(f"Slurm has no record of job {slurm_id} (rule {rule})")
            continue
        print(
            f"{slurm_id:>9}  {rule:<11} {rec.get('Partition', '?'):<10} "
            f"{rec.get('JobState', '?'):<10} {rec.get('ExitCode', '?'):<5} "
            f"{rec.get('Tres', '?')},time={rec.get('TimeLimit', '?')}"
        )
        if run_id and rec.get("Name") != run_id[1]:
            errors.append(
                f"Slurm job {slurm_id} is named {rec.get('Name')}, not this run's {run_id[1]}"
            )
        if rec.get("JobState") != "COMPLETED" or rec.get("ExitCode") != "0:0":
            errors.append(
                f"Slurm job {slurm_id} (rule {rule}): {rec.get('JobState')} "
                f"exit {rec.get('ExitCode')}"
            )
        want = partitions.get(rule, default)
        if want and rec.get("Partition") != want:
            errors.append(
                f"Slurm job {slurm_id} (rule {rule}) ran in partition "
                f"{rec.get('Partition')}, the profile says {want}"
            )
    if not submitted:
        errors.append("no job was submitted to Slurm")
    print(
        f"{len(submitted)} Slurm jobs for {sum(table.values())} Snakemake jobs "
        f"({', '.join(f'{r} {n}' for r, n in table.items())}); {len(runs)} runs checked"
    )
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, required=True, help="Snakemake's output")
    parser.add_argument("--jobcomp", type=Path, required=True, help="jobcomp/filetxt file")
    parser.add_argument("--profile", type=Path, required=True, help="the Snakemake profile")
    parser.add_argument("--since", type=float, default=0.0, help="run start (epoch seconds)")
    parser.add_argument("--run-profile", default="smoke", help="params/profiles.yaml entry")
    args = parser.parse_args()
    errors = check(args)
    for error in errors:
        print(f"FAIL: {error}", file=sys.stderr)
    if not errors:
        print(f"slurm smoke check passed ({time.strftime('%H:%M:%S')})")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
