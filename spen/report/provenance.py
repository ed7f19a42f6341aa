"""The report's header and section 11: what this report was rendered from (the run profile,
the counts of runs and inputs, what is missing) and the environment that rendered it."""

from __future__ import annotations

from typing import Any

from spen.report.cells import Cell, Table, text_cell
from spen.report.collect import Inputs


def environment_table(inputs: Inputs) -> Table:
    """The machine, Python and package versions that rendered this report."""
    env = inputs.environment
    rows = [
        [text_cell("date (UTC)"), text_cell(env["date"])],
        [text_cell("git commit"), Cell(env["git_commit"], "mono")],
        [text_cell("python"), text_cell(f"{env['python']} ({env['implementation']})")],
        [text_cell("platform"), text_cell(env["platform"])],
        [text_cell("CPUs"), text_cell(env["cpus"])],
        [text_cell("device (this rendering)"), text_cell(env["device"])],
    ]
    rows += [[text_cell(name), Cell(version, "mono")] for name, version in env["packages"].items()]
    notes = [
        "The environment that rendered this report; each run's own device and timing are in "
        "its models/ directory, the benchmarks' machine in their notes above."
    ]
    return Table("environment", ["", "value"], rows, notes=notes)


def status(inputs: Inputs) -> dict[str, Any]:
    """The header's facts: run profile (and its warning), counts of runs, groups, seeds and
    inputs, benchmark files, missing inputs, date and commit."""
    summary = inputs.summary
    runs = list(inputs.runs.values())
    profile = summary.get("profile")
    profiles = inputs.params.profiles if inputs.params is not None else {}
    overrides = profiles.get(profile, {}).get("overrides") if profile else None
    return {
        "profile": profile or "not recorded",
        "profile_warning": (
            f"Run profile '{profile}' overrides the training settings ("
            + ", ".join(f"{k} {v}" for k, v in overrides.items())
            + "): a check that the pipeline runs, not a measurement. Its figures and verdicts "
            "say nothing about the method."
            if overrides
            else ""
        ),
        "summary": str(inputs.summary_path),
        "runs": len(summary["runs"]),
        "groups": len(summary["groups"]),
        "tasks": sorted({g["task"] for g in summary["groups"].values()}),
        "seeds": sorted({r.run.seed for r in runs}),
        "with_train_json": sum(r.train is not None for r in runs),
        "with_analysis": sum(r.analysis is not None for r in runs),
        "bench_files": [b["file"] for b in inputs.bench],
        "warnings": inputs.warnings,
        "date": inputs.environment["date"],
        "commit": inputs.environment["git_commit"],
        "dirty_warning": dirty_warning(inputs.environment.get("git", {})),
    }


def dirty_warning(git: dict[str, Any]) -> str:
    """The header's warning when the figures are no commit's: files the report reads had
    uncommitted changes (or git could not say); empty for a clean tree."""
    if "error" in git:
        return (
            f"Provenance {git['error']}: no commit can be named for these figures "
            "(`spen report --strict` refuses to render them)."
        )
    dirty = git.get("dirty", [])
    if not dirty:
        return ""
    shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
    return (
        f"Uncommitted inputs: {len(dirty)} "
        + ("file the report reads differs" if len(dirty) == 1 else "files the report reads differ")
        + " from commit "
        f"{git['head'][:7]} ({shown}), so these figures are no commit's. Commit them and render "
        "again; `spen report --strict` refuses to render such a tree."
    )


def check_strict(git: dict[str, Any]) -> None:
    """`spen report --strict`: refuse to render figures that are no commit's."""
    warning = dirty_warning(git)
    if warning:
        raise ValueError(f"--strict: {warning}")
