"""The device batch: the pipeline's remaining runs, packed here for a lent GPU machine without
network (`pack`), run there through Snakemake until a deadline (`run`), and their results
unpacked into this checkout (`unpack`), so that `spen aggregate`, `spen report` and a later
`snakemake` take them as done and the next batch goes on with what is left.

The batch folder (git ignores it; the device call carries it):

    batch.json             the groups, their targets, the sizes, the stale files to drop there
                           (runs before the protocol, tuning files of a grid widened since)
    data.tar.gz            the prepared data of the batch's tasks (and the encoder's weights
                           for an input setting that reads encoder features)
    resume.tar             the resume states an earlier batch brought back unfinished, as fit
    wheels/*.whl           the distributions the machine's image lacks (workflow/device/*.yaml)

What comes back (at most the lender's number of files): `results.tar.gz` (every new or changed
small file: scores, analyses, predictions, grid summaries, the runs' train.json, metrics.jsonl
and timings.json, logs), `gpu-check.json`, `batch-record.json` and `checkpoints-K.tar` (resume
states of unfinished runs first, then finished checkpoints, as many as fit).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from spen import layout, tuning, wheels
from spen.config import Params
from spen.data.featurize import ENCODERS
from spen.io import atomic_dir, read_json, write_json
from spen.report.collect import DEVICE_RECORDS

SPEC = Path("workflow/device/h200.yaml")
MIB = 1 << 20
BATCH = "batch.json"
DATA = "data.tar.gz"
RESUME = "resume.tar"  # resume states of trainings an earlier batch left unfinished
WHEELS = "wheels"
ENCODER_DIR = "encoder"  # inside data.tar.gz: a stand-in package holding the encoder's weights
RESULTS_BACK = "results.tar.gz"
CHECK_BACK = "gpu-check.json"
RECORD_BACK = "batch-record.json"
#: what a batch brings back of a run directory besides checkpoints (small, text)
RUN_FILES = ("train.json", "metrics.jsonl", "timings.json")
#: trees whose new or changed files come back, below the profile's root
BACK_TREES = ("results", "models", "logs", ".snakemake/log")
#: the only places an unpacked file may land, below the profile's root
UNPACK_TREES = ("results/", "models/", "logs/", ".snakemake/log/")
OLD = 946684800  # 2000-01-01: the stamp of what must look older than everything else
#: what the end of a batch takes there (stopping Snakemake, archiving what finished)
PACKING_SECONDS = 60


class BatchError(ValueError):
    """A batch that cannot be packed, run or unpacked as asked: the message says why."""


@dataclass(frozen=True)
class Spec:
    """The device's limits, image and the order in which groups get its time."""

    path: Path
    travel_mib: float
    files_back: int
    file_mib: float
    back_mib: float
    minutes: float
    runs_per_gpu_probe: tuple[int, ...]
    priority: tuple[str, ...]
    image: frozenset[str]
    left_behind: frozenset[str]


def load_spec(path: Path = SPEC) -> Spec:
    """The device spec at `path`; a missing or ill-typed key is named with the file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        limits = raw["limits"]
        return Spec(
            path=path,
            travel_mib=float(limits["travel_mib"]),
            files_back=int(limits["files_back"]),
            file_mib=float(limits["file_mib"]),
            back_mib=float(limits["back_mib"]),
            minutes=float(limits["minutes"]),
            runs_per_gpu_probe=tuple(int(n) for n in raw["runs_per_gpu_probe"]),
            priority=tuple(str(g) for g in raw["priority"]),
            image=frozenset(str(n) for n in raw["image"]),
            left_behind=frozenset(str(n) for n in raw.get("left_behind") or ()),
        )
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark else ""
        raise BatchError(f"{path}{line}: not YAML ({err})") from None
    except (KeyError, TypeError, ValueError) as err:
        raise BatchError(
            f"{path}: expected limits (travel_mib, files_back, file_mib, back_mib, minutes), "
            f"runs_per_gpu_probe, priority and image ({type(err).__name__}: {err})"
        ) from None


@dataclass(frozen=True, order=True)
class Group:
    """TASK/MODEL-SETTING: one row of the matrix in one task and input setting."""

    task: str
    model: str
    setting: str

    @classmethod
    def parse(cls, text: str, where: str) -> Group:
        """`ner/compound_stacked-plus` as a Group; anything else is named as wrong."""
        task, _, rest = text.partition("/")
        model, setting = layout.split_variant(rest)
        if not (task and model and setting):
            raise BatchError(f"{where}: '{text}' is not TASK/MODEL-SETTING")
        return cls(task, model, setting)

    @property
    def name(self) -> str:
        """`ner/compound_stacked-plus`."""
        return f"{self.task}/{self.model}-{self.setting}"


def profile_runs(params: Params, profile: str, group: Group) -> list[layout.Run]:
    """The profile's runs of `group` (one per seed); none when the profile does not run it."""
    return [
        run
        for run in layout.runs(params, profile)
        if (run.task, run.model, run.setting) == (group.task, group.model, group.setting)
    ]


def run_targets(run: layout.Run) -> list[str]:
    """What a finished run leaves that the batch asks Snakemake for: scores, analysis and
    calibration."""
    return [run.path(p) for p in (layout.SCORES, layout.ANALYSIS, layout.CALIBRATION)]


def todo(params: Params, profile: str, groups: Iterable[Group], done: Iterable[str]) -> list[Group]:
    """The groups of `groups` (in their order) that the profile runs and that are not in
    `done` (the groups finished under the tuning protocol with every seed)."""
    finished = set(done)
    chosen = []
    for group in groups:
        if not profile_runs(params, profile, group):
            raise BatchError(f"{group.name}: the profile '{profile}' runs no such group")
        if group.name not in finished and group not in chosen:
            chosen.append(group)
    return chosen


def lacking_counts(root: Path, params: Params, profile: str, groups: Iterable[Group]) -> list[str]:
    """The groups of `groups` with a run whose committed scores keep no per-sentence counts
    (scored before they were kept), so that no paired test over test sentences can use it."""
    found = []
    for group in groups:
        for run in profile_runs(params, profile, group):
            scores = root / run.path(layout.SCORES)
            if scores.is_file() and "per_sentence" not in read_json(scores):
                found.append(group.name)
                break
    return found


def finished_groups(summary: Path, root: Path) -> list[str]:
    """The groups whose every seed is done under the tuning protocol, as the report judges
    them (spen.report.results), from the committed summary."""
    from spen.report.collect import load_inputs
    from spen.report.results import Results

    if not summary.is_file():
        return []
    res = Results(load_inputs(summary, None, root))
    seeds = res.inputs.params.profile(res.inputs.summary.get("profile") or "paper")["seeds"]
    return [
        name
        for name, group in res.groups.items()
        if set(seeds) <= set(group["seeds"])
        and res.under_protocol(group["task"], group["model"], group["setting"])
    ]


def stale_files(root: Path, runs: Iterable[layout.Run]) -> list[str]:
    """The committed files of `runs` that Snakemake would take as current (results of runs
    made before the tuning protocol): the batch drops them there so that they are made anew."""
    found = []
    for run in runs:
        for pattern in (layout.SCORES, layout.ANALYSIS, layout.CALIBRATION, layout.CURVE):
            path = run.path(pattern)
            if (root / path).is_file():
                found.append(path)
    return found


def off_grid_tuning_files(params: Params, root: Path, groups: Iterable[Group]) -> list[str]:
    """The committed tuning files of the groups' tuned rows whose record tried other points
    than params/ now names (a grid widened since): the record, its points' and probes'
    summaries and its pruning record. The batch drops them so that the row's grid is trained
    anew under today's grid and pruning rule, not completed around points trained without it."""
    found: list[str] = []
    rows = {(g.task, tuning.leader(params, g.model), g.setting) for g in groups}
    for task, leader, setting in sorted(r for r in rows if r[1] is not None):
        names = {"task": task, "model": leader, "setting": setting}
        record = root / layout.TUNING.format(**names)
        if not record.is_file() or tuning.on_current_grid(params, task, leader, read_json(record)):
            continue
        found.append(layout.TUNING.format(**names))
        for folder in (layout.TUNE_SUMMARIES, layout.TUNE_PROBES):
            made = sorted((root / folder.format(**names)).glob("*.json"))
            found += [str(path.relative_to(root)) for path in made]
        if (root / layout.PRUNING.format(**names)).is_file():
            found.append(layout.PRUNING.format(**names))
    return found


def checkout_files(repo: Path) -> list[Path]:
    """What the device call sends of the checkout: tracked and untracked, unignored files."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    return [repo / name.decode() for name in listed if name and (repo / name.decode()).is_file()]


def tree_bytes(paths: Iterable[Path]) -> int:
    """The bytes of the files `paths` name, and of every file below the folders it names."""
    total = 0
    for path in paths:
        files = path.rglob("*") if path.is_dir() else [path]
        total += sum(f.stat().st_size for f in files if f.is_file())
    return total


def encoder_stand_in(name: str, half: bool) -> dict[str, bytes]:
    """The files of a stand-in for the encoder's package (the same module name and
    `get_model_path`), with its weights in float16 when `half` (loaded back as float32)."""
    import importlib

    package = importlib.import_module(ENCODERS[name])
    model = Path(package.get_model_path())
    files = {
        f"{ENCODERS[name]}/__init__.py": (
            b'"""The encoder\'s weights, carried by a device batch (spen.device_batch)."""\n'
            b"from pathlib import Path\n\n\n"
            b"def get_model_path() -> Path:\n"
            b'    """The model\'s folder."""\n'
            b'    return Path(__file__).resolve().parent / "model"\n'
        )
    }
    for path in sorted(model.rglob("*")):
        if path.is_file() and path.suffix != ".md":
            files[f"{ENCODERS[name]}/model/{path.relative_to(model)}"] = path.read_bytes()
    if half:
        from safetensors.torch import load_file, save

        weights = load_file(model / "model.safetensors")
        halved = {k: (v.half() if v.is_floating_point() else v) for k, v in weights.items()}
        files[f"{ENCODERS[name]}/model/model.safetensors"] = save(halved)
        config = json.loads((model / "config.json").read_text())
        config["dtype"] = "float32"  # transformers loads the halved weights back as float32
        files[f"{ENCODERS[name]}/model/config.json"] = json.dumps(config).encode()
    return files


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tar.addfile(info, io.BytesIO(data))


def pack(
    repo: Path,
    params: Params,
    profile: str,
    groups: list[Group],
    dest: Path,
    spec: Spec,
    wheel_dir: Path | None = None,
    half_encoder: bool = True,
    python: str = wheels.DEVICE_PYTHON,
) -> dict[str, Any]:
    """Write the batch folder `dest` for `groups` of `profile` (their prepared data must be
    built here first) and return its batch.json. Refuses, naming the sizes, a batch that does
    not travel within the spec's limit with the checkout; `wheel_dir` reuses wheels already
    downloaded (else they are downloaded, for CPython `python`)."""
    if not groups:
        raise BatchError("nothing to pack: every group asked for is done under the protocol")
    root = repo / layout.profile_root(params, profile)
    runs = [run for group in groups for run in profile_runs(params, profile, group)]
    tasks = sorted({g.task for g in groups})
    feature_sets = sorted(
        {(g.task, g.setting) for g in groups if layout.reads_features(params, g.setting)}
    )
    checkout = tree_bytes(checkout_files(repo))  # before the batch's folder is there
    with atomic_dir(dest) as tmp:
        encoders = set()
        with tarfile.open(tmp / DATA, "w:gz") as tar:
            for task in tasks:
                for name in layout.PREPARED_FILES:
                    path = root / layout.PREPARED.format(task=task, name=name)
                    if not path.is_file():
                        summary = layout.PREPARED.format(task=task, name="summary.json")
                        raise BatchError(
                            f"{path}: missing; build the data first (snakemake --cores 1 {summary})"
                        )
                    tar.add(path, arcname=str(path.relative_to(root)))
            for task, setting in feature_sets:
                encoders.add(
                    params.run_config(task, "bilstm", setting, 1, profile).features.encoder
                )
            for name in sorted(encoders):
                for arcname, data in encoder_stand_in(name, half_encoder).items():
                    _add(tar, f"{ENCODER_DIR}/{arcname}", data)
        pins = wheels.closure(wheels.requirements(), spec.image | spec.left_behind)
        (tmp / WHEELS).mkdir()
        source = wheel_dir if wheel_dir is not None else tmp / "download"
        found = (
            wheels.download(pins, source, python)
            if wheel_dir is None
            else sorted(source.glob("*.whl"))
        )
        for wheel in found:
            if wheels.key(wheel.name.split("-")[0]) in pins:
                shutil.copy2(wheel, tmp / WHEELS / wheel.name)
        shutil.rmtree(tmp / "download", ignore_errors=True)
        missing = sorted(
            set(pins) - {wheels.key(w.name.split("-")[0]) for w in (tmp / WHEELS).iterdir()}
        )
        if missing:
            raise BatchError(f"{source}: no wheel for {', '.join(missing)}")
        resumed = carry_resume_states(
            root, groups, tmp / RESUME, spec.travel_mib * MIB - checkout - tree_bytes([tmp])
        )
        batch_bytes = tree_bytes([tmp])
        total = checkout + batch_bytes
        if total > spec.travel_mib * MIB:
            raise BatchError(
                f"{dest}: the batch is {batch_bytes / MIB:.1f} MiB and the checkout "
                f"{checkout / MIB:.1f} MiB, {total / MIB:.1f} MiB together, over the "
                f"{spec.travel_mib:g} MiB that travel ({spec.path}); pack fewer groups"
            )
        batch = {
            "profile": profile,
            "root": layout.profile_root(params, profile),
            "commit": _git_commit(repo),
            "packed": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "groups": [g.name for g in groups],
            "targets": [t for run in runs for t in run_targets(run)],
            "stale": stale_files(root, runs) + off_grid_tuning_files(params, root, groups),
            "raw_dirs": sorted({layout.raw_dir(params, t) for t in tasks}),
            "features": [f"{t}/{s}" for t, s in feature_sets],
            "encoder_float16": bool(encoders) and half_encoder,
            "train_limit": params.profile(profile)["overrides"].get("train_limit"),
            "wheels": sorted(w.name for w in (tmp / WHEELS).iterdir()),
            "resume_states": resumed,
            "mib": {
                "batch": round(batch_bytes / MIB, 2),
                "checkout": round(checkout / MIB, 2),
                "total": round(total / MIB, 2),
                "limit": spec.travel_mib,
            },
            "limits": {
                "minutes": spec.minutes,
                "files_back": spec.files_back,
                "file_mib": spec.file_mib,
                "back_mib": spec.back_mib,
                "runs_per_gpu_probe": list(spec.runs_per_gpu_probe),
            },
        }
        write_json(tmp / BATCH, batch)
    return batch


def carry_resume_states(
    root: Path, groups: Iterable[Group], archive: Path, room: float
) -> list[str]:
    """Archive the resume states that runs and grid points of `groups` left here (a batch cut
    at its deadline brings them back) while they fit in `room` bytes, the groups' order
    first, so that their trainings go on there; the paths carried."""
    carried: list[str] = []
    used = 0
    with tarfile.open(archive, "w") as tar:
        for group in groups:
            folder = root / "models" / group.task / f"{group.model}-{group.setting}"
            for state in sorted(folder.rglob("resume/last.pt")):
                size = state.stat().st_size + (1 << 10)
                if used + size <= room:
                    tar.add(state, arcname=str(state.relative_to(root)))
                    carried.append(str(state.relative_to(root)))
                    used += size
    if not carried:
        archive.unlink()
    return carried


def _git_commit(repo: Path) -> str:
    """The checkout's commit, `+dirty` when tracked files differ from it."""
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return head + ("+dirty" if dirty else "")


# ---- there: placing the batch, running it, packing what finished -------------------------


def digests(root: Path, trees: Iterable[str] = BACK_TREES) -> dict[str, str]:
    """SHA-256 of every file below `trees` of `root`, by path relative to `root`."""
    found = {}
    for tree in trees:
        for path in sorted((root / tree).rglob("*")):
            if path.is_file():
                found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def place(batch_dir: Path, repo: Path) -> tuple[dict[str, Any], Path]:
    """Put the batch's data into the checkout there so that Snakemake starts from it: every
    file already there dated older than the data (so a committed result stays current), the
    raw-data folders as empty placeholders older still, the stale files dropped. Returns the
    batch and the folder the encoder stand-in went to (for PYTHONPATH)."""
    batch = read_json(batch_dir / BATCH)
    root = layout.enter_profile_root(repo, batch["root"])
    for tree in ("results",):
        for path in (root / tree).rglob("*"):
            os.utime(path, (OLD + 60, OLD + 60))
    for name in batch["stale"]:
        (root / name).unlink(missing_ok=True)
    for raw in batch["raw_dirs"]:
        (root / raw).mkdir(parents=True, exist_ok=True)
        os.utime(root / raw, (OLD, OLD))
    site = batch_dir / "site"
    with tarfile.open(batch_dir / DATA) as tar:
        for member in tar.getmembers():
            _check_member(member, ("data/", f"{ENCODER_DIR}/"), batch_dir / DATA)
        tar.extractall(root, members=[m for m in tar.getmembers() if m.name.startswith("data/")])
        tar.extractall(
            site, members=[m for m in tar.getmembers() if m.name.startswith(f"{ENCODER_DIR}/")]
        )
    if (batch_dir / RESUME).is_file():
        with tarfile.open(batch_dir / RESUME) as tar:
            for member in tar.getmembers():
                _check_member(member, ("models/",), batch_dir / RESUME)
            tar.extractall(root, filter="data")
    now = time.time()
    for path in (root / "data").rglob("*"):
        if path.is_file():
            os.utime(path, (now, now))
    return batch, site / ENCODER_DIR


def _check_member(member: tarfile.TarInfo, allowed: tuple[str, ...], archive: Path) -> None:
    """A member that is a plain file or folder below one of `allowed`; anything else is named."""
    parts = Path(member.name).parts
    if (
        member.name.startswith("/")
        or ".." in parts
        or not (member.isfile() or member.isdir())
        or not member.name.startswith(allowed)
    ):
        raise BatchError(
            f"{archive}: member '{member.name}' is not a file below {', '.join(allowed)}"
        )


def snakemake_command(batch: dict[str, Any], runs_per_gpu: int, cores: int) -> list[str]:
    """The Snakemake call that runs the batch's targets, several trainings on the one GPU."""
    return [
        "snakemake",
        *batch["targets"],
        "--workflow-profile",
        "workflow/profiles/gpu",
        "--cores",
        str(cores),
        "--resources",
        f"gpu={runs_per_gpu}",
        "--set-threads",
        f"train={max(1, cores // runs_per_gpu)}",
        f"tune_train={max(1, cores // runs_per_gpu)}",
        "--scheduler",
        "greedy",
        "--keep-going",
        "--config",
        f"profile={batch['profile']}",
    ]


def run_until(command: list[str], cwd: Path, deadline: float, log: Path) -> dict[str, Any]:
    """Run `command` (its own process group) until it ends or `deadline` (time.time()); at
    the deadline stop it and every job it started (their resume states stay). Returns how it
    ended and Snakemake's last `N of M steps` line."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        stopped = False
        while proc.poll() is None:
            if time.time() >= deadline:
                stopped = True
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                break
            time.sleep(1)
    steps = [line for line in log.read_text(errors="replace").splitlines() if " steps (" in line]
    done, _, planned = steps[-1].split(" steps")[0].partition(" of ") if steps else ("0", "", "0")
    return {
        "returncode": proc.returncode,
        "stopped_at_deadline": stopped,
        "jobs_finished": int(done.strip() or 0),
        "jobs_planned": int(planned.strip() or 0),
    }


def _is_checkpoint(path: str) -> bool:
    return path.endswith(".pt")


def collect(
    root: Path, before: dict[str, str], out: Path, limits: dict[str, Any], reserved: int
) -> dict[str, Any]:
    """Pack what the run made or changed below the profile's root into files under `out`:
    the small files in one archive, then checkpoints (resume states first) in archives of at
    most the per-file limit, while files (`reserved` of them kept for what goes beside) and
    bytes last. Returns what went and what stayed."""
    after = digests(root)
    changed = sorted(p for p, d in after.items() if before.get(p) != d)
    small = [p for p in changed if not _is_checkpoint(p)]
    checkpoints = sorted(
        (p for p in changed if _is_checkpoint(p)), key=lambda p: ("resume" not in p, p)
    )
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out / RESULTS_BACK, "w:gz") as tar:
        for path in small:
            tar.add(root / path, arcname=path)
    used = (out / RESULTS_BACK).stat().st_size + reserved * (1 << 20)
    files = 1 + reserved
    cap = int(limits["file_mib"] * MIB) - (1 << 16)  # room for the tar headers
    sent, left = [], []
    chunk: list[str] = []
    chunk_bytes = 0

    def flush() -> None:
        nonlocal files, used, chunk, chunk_bytes
        if not chunk:
            return
        name = out / f"checkpoints-{files}.tar"
        with tarfile.open(name, "w") as tar:
            for path in chunk:
                tar.add(root / path, arcname=path)
        files, used = files + 1, used + name.stat().st_size
        sent.extend(chunk)
        chunk, chunk_bytes = [], 0

    for path in checkpoints:
        size = (root / path).stat().st_size
        if chunk and chunk_bytes + size > cap:
            flush()
        fits = (
            size <= cap
            and files < limits["files_back"]
            and used + chunk_bytes + size <= limits["back_mib"] * MIB
        )
        if fits:
            chunk.append(path)
            chunk_bytes += size
        else:
            left.append(path)
    flush()
    return {"small_files": len(small), "checkpoints_back": sent, "checkpoints_left": left}


def fewest_enough(rows: list[dict[str, Any]], enough: float = 0.95) -> int | None:
    """The fewest concurrent runs whose total throughput reaches `enough` of the best (more
    only add waiting, and memory); None without rows."""
    if not rows:
        return None
    best = max(row["sentences_per_second_total"] for row in rows)
    return min(r["runs"] for r in rows if r["sentences_per_second_total"] >= enough * best)


def probe_concurrency(
    root: Path,
    counts: Iterable[int],
    batch: dict[str, Any],
    device: str,
    folder: Path,
    deadline: float,
) -> list[dict[str, Any]]:
    """Sentences/s and peak memory of N trainings at once of the batch's first group (N of
    `counts`, while the deadline allows), by `spen bench --training-only`."""
    group = Group.parse(batch["groups"][0], BATCH)
    cores = os.cpu_count() or 1
    rows = []
    for count in counts:
        if time.time() >= deadline:
            break
        env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cores // count))}
        procs = [
            subprocess.Popen(
                [
                    "spen",
                    "bench",
                    group.task,
                    "--training-only",
                    "--device",
                    device,
                    "--profile",
                    batch["profile"],
                    "--model",
                    group.model,
                    "--setting",
                    group.setting,
                    "--passes",
                    "1",
                    "--out",
                    str(folder / f"concurrent-{count}-{i}.json"),
                ],
                cwd=root,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            for i in range(count)
        ]
        if any(p.wait() != 0 for p in procs):
            break
        training = [
            row
            for i in range(count)
            for row in read_json(folder / f"concurrent-{count}-{i}.json")["training"]
        ]
        each = [row["sentences_per_second"] for row in training]
        peaks = [row["peak_gpu_memory_mb"] for row in training if "peak_gpu_memory_mb" in row]
        rows.append(
            {
                "runs": count,
                "sentences_per_second_each": each,
                "sentences_per_second_total": sum(each),
                "peak_memory_mb_each": max(peaks, default=None),
            }
        )
    return rows


def run_speeds(root: Path, sentences: dict[str, int]) -> dict[str, dict[str, float]]:
    """Each run's (or grid point's) mean epoch seconds and training sentences/s there, by its
    directory below models/, from its timings.json; `sentences`: a task's training sentences
    as the profile reads them."""
    found = {}
    for timings in sorted((root / "models").rglob("timings.json")):
        rel = timings.parent.relative_to(root / "models")
        seconds = [e["seconds"] for e in read_json(timings).get("epochs") or [] if e.get("seconds")]
        if seconds and rel.parts[0] in sentences:
            mean = sum(seconds) / len(seconds)
            found[str(rel)] = {
                "seconds_per_epoch": mean,
                "sentences_per_second": sentences[rel.parts[0]] / mean,
            }
    return found


def device_facts(device: str) -> dict[str, Any]:
    """The device's name, torch's and CUDA's versions, and the host's cores."""
    import torch

    on_gpu = device == "cuda" and torch.cuda.is_available()
    return {
        "device": torch.cuda.get_device_name() if on_gpu else "cpu",
        "torch": torch.__version__,
        "cuda": torch.version.cuda if on_gpu else None,
        "cores": os.cpu_count(),
    }


def finished_runs(root: Path, batch: dict[str, Any]) -> list[str]:
    """The runs (TASK/MODEL-SETTING/seedK) whose every target exists at the end."""
    runs: dict[str, list[str]] = {}
    for target in batch["targets"]:
        runs.setdefault(str(Path(target).parent.relative_to("results")), []).append(target)
    return [run for run, targets in runs.items() if all((root / t).is_file() for t in targets)]


def run_batch(
    batch_dir: Path,
    repo: Path,
    out: Path,
    device: str,
    started: float,
    probe_runs: list[int] | None = None,
) -> dict[str, Any]:
    """Run a packed batch there: place its data, featurise where it needs encoder features,
    choose the number of runs sharing the GPU (measured unless a committed GPU check says),
    run Snakemake until the deadline (the spec's minutes from `started`, less what packing
    takes), and pack what finished into `out`. `probe_runs` replaces the spec's numbers of
    concurrent runs to measure. Returns the batch record (also in `out`)."""
    batch, encoder_site = place(batch_dir, repo)
    root = repo / batch["root"]
    limits = batch["limits"]
    deadline = started + limits["minutes"] * 60 - PACKING_SECONDS
    if encoder_site.is_dir():
        os.environ["PYTHONPATH"] = f"{encoder_site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    before = digests(root)
    steps: dict[str, float] = {}
    for item in batch["features"]:
        task, setting = item.split("/")
        subprocess.run(
            ["spen", "featurize", task, "--setting", setting, "--profile", batch["profile"],
             "--device", device, "--out", layout.FEATURES.format(task=task, setting=setting),
             "--cost", layout.FEATURIZE_COST.format(task=task, setting=setting)],
            cwd=root, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        steps[f"featurize-{task}-{setting}"] = time.time() - started
    committed = repo / layout.GPU_CHECK
    facts = device_facts(device)
    known = read_json(committed) if committed.is_file() else {}
    probe: list[dict[str, Any]] = []
    if known.get("device") == facts["device"] and known.get("runs_per_gpu"):
        chosen, why = int(known["runs_per_gpu"]), f"{layout.GPU_CHECK} (measured before)"
    else:
        folder = batch_dir / "probe"
        folder.mkdir(exist_ok=True)
        counts = probe_runs or limits["runs_per_gpu_probe"]
        probe = probe_concurrency(
            root, counts, batch, device, folder, started + limits["minutes"] * 20
        )
        chosen = fewest_enough(probe) or 1
        why = "measured here: the fewest concurrent runs within 95% of the best total sentences/s"
        steps["runs-per-gpu"] = time.time() - started
    cores = os.cpu_count() or 1
    ran = run_until(  # from the project (its Snakefile), targets below the profile's root
        snakemake_command(batch, chosen, cores), repo, deadline, batch_dir / "snakemake.log"
    )
    steps["snakemake"] = time.time() - started
    (root / "logs").mkdir(exist_ok=True)
    shutil.copyfile(batch_dir / "snakemake.log", root / "logs" / "device-batch-snakemake.log")
    sentences = {}
    for task in {Group.parse(g, BATCH).task for g in batch["groups"]}:
        summary = read_json(root / "data" / task / "summary.json")["sentences"]["train"]
        sentences[task] = min(summary, batch.get("train_limit") or summary)
    sent = collect(root, before, out, limits, reserved=2)
    record = {
        **facts,
        "batch": {k: batch[k] for k in ("profile", "root", "commit", "packed", "groups", "mib")},
        "jobs": ran,
        "runs_packed": len({str(Path(t).parent) for t in batch["targets"]}),
        "runs_finished": finished_runs(root, batch),
        "runs_per_gpu": chosen,
        "runs_per_gpu_why": why,
        "wall_seconds": time.time() - started,
        "steps_seconds_since_start": steps,
        **sent,
    }
    check = {
        **facts,
        "steps_seconds_since_start": steps,
        "wall_seconds": record["wall_seconds"],
        "concurrency": probe or known.get("concurrency", []),
        "runs_per_gpu": chosen,
        "runs": run_speeds(root, sentences),
        "bench": known.get("bench", {}),
        "smoke_wall_seconds": known.get("smoke_wall_seconds"),
    }
    write_json(out / CHECK_BACK, check)
    write_json(out / RECORD_BACK, record)
    return record


# ---- here: unpacking -----------------------------------------------------------------------


def unpack(back: Path, repo: Path) -> dict[str, Any]:
    """Put what a batch brought back (`back`: the device call's files) into the checkout: the
    results, run files and checkpoints below the profile's root, the batch record under
    results/device/ and the GPU check under results/bench/. Every archive is checked before
    anything is written; returns the record."""
    record_file = back / RECORD_BACK
    if not record_file.is_file():
        raise BatchError(f"{back}: no {RECORD_BACK}; not what a device batch brings back")
    record = read_json(record_file)
    try:
        root = repo / record["batch"]["root"]
        stamp = record["batch"]["packed"]
    except (KeyError, TypeError):
        raise BatchError(f"{record_file}: expected batch.root and batch.packed") from None
    archives = [back / RESULTS_BACK, *sorted(back.glob("checkpoints-*.tar"))]
    members: list[tuple[Path, list[tarfile.TarInfo]]] = []
    for archive in archives:
        if not archive.is_file():
            raise BatchError(f"{archive}: missing from what came back")
        try:
            with tarfile.open(archive) as tar:
                found = tar.getmembers()
        except tarfile.TarError as err:
            raise BatchError(f"{archive}: not a tar archive ({err})") from None
        for member in found:
            _check_member(member, UNPACK_TREES, archive)
        members.append((archive, found))
    for archive, found in members:
        with tarfile.open(archive) as tar:
            tar.extractall(root, members=found, filter="data")
    landed = sum(len(found) for _, found in members)
    record["unpacked_files"] = landed
    write_json(root / DEVICE_RECORDS / f"batch-{stamp.replace(':', '')}.json", record)
    check = back / CHECK_BACK
    if check.is_file():
        shutil.copyfile(check, root / layout.GPU_CHECK)
    return record
