"""Record in dvc.lock the steps that Snakemake made and still holds current.

`dvc commit` writes into dvc.lock whatever the workspace holds, and the code and params as they
are now, whoever made the outputs and from what. Run on outputs made by older code, it would
claim they came from today's. Snakemake keeps, for each output it made, the command, params
(each step's code digest and the params values it reads among them) and inputs of the job that
made it; its detailed summary says "ok" and plans no update for an output only while the file
exists and all of those still hold. A DVC stage is recorded when Snakemake made every one of
its outputs (every file of a folder output) and says so of each: the lock then says no more
than Snakemake's record does.

`dvc commit` writes each output it caches anew; the outputs keep their modification times, so
that Snakemake, which reruns a step whose inputs are newer than its outputs, still has nothing
to do afterwards.

What the record cannot see: a file overwritten by hand after Snakemake made it, and
`snakemake --touch`, which writes a record for files it did not make. Nothing is recorded
while another Snakemake runs in the project or an output is left incomplete.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from shutil import which
from typing import TYPE_CHECKING, Any

import yaml

from spen.io import atomic_path

if TYPE_CHECKING:
    from dvc.stage import Stage

NO_RECORD = "-"  # the detailed summary's shellcmd of an output Snakemake holds no record of
NOT_DATA = {".snakemake_timestamp"}  # what Snakemake leaves in a folder output (.dvcignore)
LOCKED = "Directory cannot be locked"  # what Snakemake says with another instance at work


def _tool(name: str) -> str:
    """The executable `name` beside this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else which(name)
    if found is None:
        raise FileNotFoundError(f"{name}: not installed beside {sys.executable} nor on PATH")
    return found


def current_outputs(summary: str, root: Path) -> set[Path]:
    """The outputs (absolute paths under `root`) that a `snakemake --detailed-summary` lists
    as made by Snakemake, present and up to date."""
    lines = summary.splitlines()
    header = next((i for i, line in enumerate(lines) if line.startswith("output_file\t")), None)
    if header is None:
        raise ValueError("snakemake --detailed-summary printed no table")
    columns = lines[header].split("\t")
    path, command, status, plan = (
        columns.index(c) for c in ("output_file", "shellcmd", "status", "plan")
    )
    current = set()
    for line in lines[header + 1 :]:
        fields = line.split("\t")
        if (
            len(fields) == len(columns)
            and fields[command] != NO_RECORD
            and fields[status] == "ok"
            and fields[plan] == "no update"
        ):
            current.add((root / fields[path]).resolve())
    return current


def is_current(out: Path, current: set[Path]) -> bool:
    """Whether DVC output `out` is current: listed itself, or a folder whose every file is."""
    out = out.resolve()
    if out in current:
        return True
    if not out.is_dir():
        return False
    files = [f for f in out.rglob("*") if f.is_file() and f.name not in NOT_DATA]
    return bool(files) and all(f.resolve() in current for f in files)


def lockable(stages: Mapping[str, Iterable[Path]], current: set[Path]) -> list[str]:
    """The stages, in order, every output of which is current."""
    return [name for name, outs in stages.items() if all(is_current(o, current) for o in outs)]


def dvc_yaml_profile(project: Path) -> str:
    """The run profile `project`'s dvc.yaml was rendered for (`spen dvc-yaml`)."""
    dvc_yaml = yaml.safe_load((project / "dvc.yaml").read_text(encoding="utf-8"))
    return str(dvc_yaml["vars"][0]["profile"])


def check_own_code(project: Path) -> None:
    """Refuse a project whose `spen/` is not the package this process (and the Snakemake it
    starts, which digests the code it imports) runs: the two tools would judge different code."""
    running = Path(__file__).resolve().parent
    if running != (project / "spen").resolve():
        raise ValueError(
            f"{project}: runs spen from {running}, not its own spen/; put the project first on "
            "PYTHONPATH"
        )


def snakemake_summary(project: Path, profile: str) -> str:
    """Snakemake's detailed summary of run profile `profile`'s whole pipeline in `project`,
    after a dry run has found no incomplete output (the summary itself reads one as complete);
    refused while another Snakemake is at work there."""
    for args in (["--dry-run", "--quiet", "all"], ["--detailed-summary"]):
        done = subprocess.run(
            [_tool("snakemake"), *args, "--cores", "1", "--config", f"profile={profile}"],
            cwd=project, capture_output=True, text=True, check=False,
        )  # fmt: skip
        said = done.stdout + done.stderr
        if LOCKED in said:
            raise ValueError(f"{project}: another Snakemake is at work there; try once it ends")
        if done.returncode != 0:
            raise ValueError(f"snakemake {' '.join(args)} failed:\n{said[-2000:]}")
    return done.stdout


def dvc_stages(project: Path) -> dict[str, list[Path]]:
    """Each stage of `project`'s dvc.yaml, by DVC's name for it, with its outputs' paths."""
    from dvc.repo import Repo

    with Repo(str(project)) as repo:
        return {
            stage.addressing: [Path(out.fs_path) for out in stage.outs]
            for stage in repo.index.stages
            if stage.outs
        }


def commit(project: Path, stages: Mapping[str, Iterable[Path]]) -> None:
    """`dvc commit --force` `stages` (name: output paths) of `project`: their outputs into the
    cache, their dependencies' and outputs' hashes into dvc.lock, which is written once. DVC
    writes each output it caches anew (a copy from the cache), which would make it newer than
    the outputs Snakemake made from it and so outdated to Snakemake: every output file keeps
    its modification time."""
    from dvc.repo import Repo

    times = {}
    for path in _files(stages.values()):
        found = path.stat()
        times[path] = (found.st_atime_ns, found.st_mtime_ns)
    with Repo(str(project)) as repo, repo.lock:
        # one index for every stage: the command line `dvc commit` builds one per stage named
        chosen = [stage for stage in repo.index.stages if stage.addressing in stages]
        by_file: dict[str, list[Stage]] = {}
        for stage in chosen:
            stage.save()
            stage.commit(relink=True)
            by_file.setdefault(stage.dvcfile.path, []).append(stage)
        for group in by_file.values():
            group[0].dvcfile.dump_stages(group, update_pipeline=False)
    for path, ns in times.items():
        if path.is_file():
            os.utime(path, ns=ns)


def _files(outputs: Iterable[Iterable[Path]]) -> list[Path]:
    """Every file of `outputs` (a folder's files within it)."""
    found: list[Path] = []
    for paths in outputs:
        for path in paths:
            found += [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    return [path for path in found if path.is_file()]


def read_lock(path: Path) -> dict[str, Any]:
    """The stages (name: entry) a dvc.lock records; a file that is not one is refused, named."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{path}{line}: not YAML; expected a dvc.lock") from err
    if not isinstance(data, dict) or not isinstance(data.get("stages"), dict):
        raise ValueError(f"{path}: no 'stages' mapping; expected a dvc.lock")
    return data["stages"]


def recorded_elsewhere(
    project: Path, entries: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Which entries of another checkout's dvc.lock (stage name: entry) can stand in
    `project`'s: those of stages `project`'s dvc.yaml defines alike (command, dependencies and
    outputs) whose every output present here has the hash the entry records (absent outputs,
    such as checkpoints kept out of git, are taken on the entry's word). Returns them, and why
    each other entry was refused."""
    from dvc.repo import Repo

    taken: dict[str, Any] = {}
    refused: dict[str, str] = {}
    with Repo(str(project)) as repo:
        stages = {stage.addressing: stage for stage in repo.index.stages}
        for name, entry in entries.items():
            why = _unlike(stages.get(name), entry)
            if why:
                refused[name] = why
            else:
                taken[name] = entry
    return taken, refused


def _unlike(stage: Stage | None, entry: Mapping[str, Any]) -> str | None:
    """Why `entry` does not record `stage` as this checkout defines and holds it (None: it
    does)."""
    if stage is None:
        return "no such stage in dvc.yaml"
    if str(stage.cmd).split() != str(entry.get("cmd", "")).split():
        return "another command"
    deps = sorted(d.def_path for d in stage.deps if not hasattr(d, "params"))
    if deps != sorted(d["path"] for d in entry.get("deps", [])):
        return "other dependencies"
    recorded = {o["path"]: o for o in entry.get("outs", [])}
    if sorted(o.def_path for o in stage.outs) != sorted(recorded):
        return "other outputs"
    for out in stage.outs:
        if out.exists and out.get_hash().value != recorded[out.def_path].get("md5"):
            return f"{out.def_path} here differs from the one recorded"
    return None


def write_entries(project: Path, entries: Mapping[str, Any]) -> None:
    """Put `entries` (stage name: entry) into `project`'s dvc.lock, in DVC's format, at once,
    and their outputs present here into DVC's cache, as `dvc commit` would (the files left
    untouched, so that Snakemake's modification times stand)."""
    from dvc.repo import Repo
    from dvc.utils.serialize import dump_yaml

    path = project / "dvc.lock"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    data = data or {"schema": "2.0", "stages": {}}
    data["stages"].update(entries)
    with atomic_path(path) as tmp:
        dump_yaml(tmp, data)
    with Repo(str(project)) as repo, repo.lock:
        for stage in repo.index.stages:
            if stage.addressing in entries:
                for out in stage.outs:
                    if out.exists and out.use_cache:
                        out.commit(relink=False)
