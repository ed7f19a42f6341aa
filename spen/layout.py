"""Where every file of the pipeline lives, and which runs `params/` asks for.

Snakemake (`workflow/rules/common.smk`) and `spen dvc-yaml` (`spen.dvc_yaml`) both build on this
module and on `spen.steps`, so the two tools see the same runs and the same paths.

Paths are patterns whose `{fields}` are Snakemake wildcards and `Run` attributes:

    data/raw/{rawdir}/                                            fetch (DIR of params/data.yaml)
    data/{task}/{train,dev,test}.arrow, ...                       preprocess
    models/{task}/tlm/{kind}[-{setting}].pt                       pretrain-tlm (a global energy's)
    results/tuning/{task}/probes/{model}-{setting}/{point}.json   tune_probe (probe epochs)
    results/tuning/{task}/pruning/{model}-{setting}.json          tune_prune (points kept)
    results/tuning/{task}/points/{model}-{setting}/{point}.json   tune_train (a point's summary)
    models/{task}/{model}-{setting}/tune/{point}/                 a point's checkpoints, beside
    results/tuning/{task}/{model}-{setting}.json                  tune_select (the choice)
    models/{task}/{model}-{setting}/seed{seed}/                   train: best.pt, metrics.jsonl, ...
    results/{task}/{model}-{setting}/seed{seed}/                  decode, score: test.*
    results/summary.json, results/.../learning_curve.json         aggregate
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from spen import tuning
from spen.config import TAG_LM_DIR, Params, ParamsError
from spen.data.features import FEATURES_DIR
from spen.io import read_json

RAW_DIR = "data/raw/{rawdir}"
PREPARED = "data/{task}/{name}"
PREPARED_FILES = (
    "train.arrow",
    "dev.arrow",
    "test.arrow",
    "vocab.json",
    "embeddings.npy",
    "summary.json",
)
# What each step reads of a task's prepared directory (spen.data.prepared.load_prepared reads
# vocab.json and embeddings.npy; each step one or two splits).
TRAIN_READS = ("train.arrow", "dev.arrow", "vocab.json", "embeddings.npy")
DECODE_READS = ("test.arrow", "vocab.json", "embeddings.npy")
# `spen bench`: decoding on test, training throughput on the first training sentences
BENCH_READS = ("train.arrow", "test.arrow", "vocab.json", "embeddings.npy")
# What `spen featurize` reads, and writes for an input setting with encoder features.
FEATURIZE_READS = ("train.arrow", "dev.arrow", "test.arrow")
FEATURES = FEATURES_DIR
FEATURE_FILES = ("train.arrow", "dev.arrow", "test.arrow", "summary.json")

TAG_LM = f"{TAG_LM_DIR}/{{name}}.pt"
DEFAULT_TAG_LM_SETTING = "paper"  # `spen pretrain-tlm`'s default; a tlm_a never reads it
RUN_DIR = "{task}/{model}-{setting}/seed{seed}"
CHECKPOINT = f"models/{RUN_DIR}/best.pt"
TRAIN_LOG = f"models/{RUN_DIR}/metrics.jsonl"
TRAIN_SUMMARY = f"models/{RUN_DIR}/train.json"
TIMINGS = f"models/{RUN_DIR}/timings.json"
PREDICTIONS = f"results/{RUN_DIR}/test.conll"
SCORES = f"results/{RUN_DIR}/test.json"
#: the 2018 rows' runs with as many joint epochs as the other rows (profiles joint_epochs_pos
#: and joint_epochs_ner; docs/CHOICES.md, "Retuning"), laid out as results/ is: TASK/MODEL-
#: SETTING/seedK/{test,train}.json, and under tuning/ the records of the grids retuned at that
#: budget
JOINT_EPOCHS = "results/sensitivity/joint-epochs"
JOINT_EPOCHS_TUNING = f"{JOINT_EPOCHS}/tuning"
JOINT_EPOCHS_FILES = (
    f"{JOINT_EPOCHS}/*/*/seed*/test.json",
    f"{JOINT_EPOCHS}/*/*/seed*/train.json",
    f"{JOINT_EPOCHS_TUNING}/*/*.json",
)
CURVE = f"results/{RUN_DIR}/learning_curve.json"
ANALYSIS = f"results/{RUN_DIR}/analysis.json"
CALIBRATION = f"results/{RUN_DIR}/calibration.json"
TUNE_POINTS = "models/{task}/{model}-{setting}/tune"
TUNE_DIR = f"{TUNE_POINTS}/{{point}}"
# A grid's summaries (its probes' and its points' train.json) are versioned in git with the
# records made of them, apart from the points' checkpoints: a grid that a cut-off or a fresh
# machine interrupts goes on from the points it finished, wherever its checkpoints went.
TUNE_SUMMARIES = "results/tuning/{task}/points/{model}-{setting}"
TUNE_SUMMARY = f"{TUNE_SUMMARIES}/{{point}}.json"
TUNE_PROBES = "results/tuning/{task}/probes/{model}-{setting}"
TUNE_PROBE = f"{TUNE_PROBES}/{{point}}.json"
PRUNING = "results/tuning/{task}/pruning/{model}-{setting}.json"
TUNING = "results/tuning/{task}/{model}-{setting}.json"
SUMMARY = "results/summary.json"
BENCH_DIR = "results/bench"
BENCH = f"{BENCH_DIR}/decode-{{task}}.json"
# What `spen featurize` measured: sizes and cost (seconds, peak memory), apart from the features
# it writes, whose bytes stay a function of their inputs.
FEATURIZE_COST = f"{BENCH_DIR}/featurize-{{task}}-{{setting}}.json"
# hand-run records of whole pipeline runs (`spen pipeline-time`), read by the report
PIPELINE_TIMES = f"{BENCH_DIR}/pipeline-*.json"
# `spen project-time`: a profile's projected wall time from what was measured, read by the report
PROJECTION = f"{BENCH_DIR}/projection-{{profile}}-{{workers}}.json"
PROJECTIONS = f"{BENCH_DIR}/projection-*.json"
# hand-run training benchmarks across input settings (`spen bench --training-only --setting`)
SETTING_BENCHES = f"{BENCH_DIR}/settings-*.json"
# the figures of `scripts/gpu-check.sh` on a GPU machine, read by the report when present
GPU_CHECK_FILE = "gpu-check.json"
GPU_CHECK = f"{BENCH_DIR}/{GPU_CHECK_FILE}"
REPORT = ("reports/index.html", "reports/index.md", "reports/figures")  # figures: NAME.svg
CHOICES = "docs/CHOICES.md"


@dataclass(frozen=True, order=True)
class Run:
    """One training run: TASK x MODEL x SETTING x SEED."""

    task: str
    model: str
    setting: str
    seed: int

    @property
    def name(self) -> str:
        """`pos-bilstm-paper-1`: how DVC's matrix names the run's stages (`train@...`)."""
        return f"{self.task}-{self.model}-{self.setting}-{self.seed}"

    @property
    def variant(self) -> str:
        """`MODEL-SETTING`, the run's directory under its task."""
        return f"{self.model}-{self.setting}"

    def path(self, pattern: str) -> str:
        """`pattern` (e.g. `CHECKPOINT`) filled in for this run."""
        return pattern.format(**asdict(self))


def split_variant(name: str) -> tuple[str, str]:
    """(model, setting) of a run group's folder name `MODEL-SETTING` (`Run.variant`); ("", name)
    where the name has no dash."""
    model, _, setting = name.rpartition("-")
    return model, setting


def active_profile(params: Params, override: str | None = None) -> str:
    """The run profile: `override` if given, else params/experiments.yaml's `profile`."""
    name = override or params.experiments["profile"]
    if name not in params.profiles:
        raise ParamsError(
            f"run profile '{name}' (asked for on the command line) is not in "
            f"params/profiles.yaml; allowed: {', '.join(sorted(params.profiles))}"
        )
    return name


#: what a profile's own output folder links to in the project (read by every step, written by none)
PROJECT_LINKS = ("params", "docs")


def profile_root(params: Params, profile: str) -> str:
    """The folder, relative to the project, under which `profile`'s runs write data/, models/,
    results/ and reports/: its `root` in params/profiles.yaml, else "." (the project itself)."""
    return str(params.profile(profile).get("root", "."))


def enter_profile_root(project: Path, root: str) -> Path:
    """Make `project/root` a place the steps can run in: the folder, and in it a relative link
    to each of the project's `PROJECT_LINKS`; the folder's absolute path."""
    folder = (project / root).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_LINKS:
        link = folder / name
        target = os.path.relpath(project.resolve() / name, folder)
        if link.is_symlink() and os.readlink(link) == target:
            continue
        if link.exists() or link.is_symlink():
            raise ParamsError(
                f"{link}: expected a link to the project's {name}/ (profile root {root}); "
                "move it away"
            )
        link.symlink_to(target, target_is_directory=True)
    return folder


def check_no_overwrite(params: Params, profile: str, root: Path) -> None:
    """Refuse to let `profile` overwrite results another profile made: the profile recorded in
    results/summary.json and in the tuning records, when its overrides differ from `profile`'s
    (`paper` and `paper_seed1` share their outputs; `smoke` shares none)."""
    mine = params.profile(profile)["overrides"]
    records = sorted((root / "results" / "tuning").glob("*/*.json"))
    for path in [root / SUMMARY, *records]:
        if not path.is_file():
            continue
        theirs = read_json(path).get("profile")
        if (
            theirs
            and theirs != profile
            and (theirs not in params.profiles or params.profile(theirs)["overrides"] != mine)
        ):
            raise ParamsError(
                f"{path.relative_to(root)} holds results of run profile '{theirs}'; profile "
                f"'{profile}' trains otherwise and would overwrite them: run it in a copy "
                "(`git worktree add ../spen-" + profile + "`) or pass --config overwrite=true"
            )


def experiments(params: Params, profile: str) -> dict[str, list[str]]:
    """params/experiments.yaml's tasks, models and settings, as `profile` narrows them (its
    `experiments`: for each list it names, the entries it keeps, of those listed there)."""
    keep = params.profile(profile).get("experiments", {})
    known = {
        "tasks": params.data["tasks"],
        "models": params.models["models"],
        "settings": params.models["settings"],
    }
    found = {}
    for key in ("tasks", "models", "settings"):
        unknown = [name for name in keep.get(key, []) if name not in known[key]]
        if unknown:
            raise ParamsError(
                f"params/profiles.yaml: {profile}.experiments.{key}: no such {key[:-1]} "
                f"{', '.join(unknown)}"
            )
        listed = list(params.experiments[key])
        found[key] = [name for name in listed if key not in keep or name in keep[key]]
        if not found[key]:
            raise ParamsError(
                f"params/profiles.yaml: {profile}.experiments.{key} keeps none of "
                f"params/experiments.yaml's {key} ({', '.join(listed)})"
            )
    return found


def runs(params: Params, profile: str) -> list[Run]:
    """Every run of params/experiments.yaml (as `profile` narrows it), with its seeds."""
    exp = experiments(params, profile)
    seeds = params.profile(profile)["seeds"]
    product = itertools.product(exp["tasks"], exp["models"], exp["settings"], seeds)
    return [Run(task, model, setting, int(seed)) for task, model, setting, seed in product]


def tuning_record(params: Params, task: str, model: str, setting: str) -> str | None:
    """The tuning record whose choice the runs of MODEL in SETTING on TASK take, if any."""
    leader = tuning.leader(params, model)
    return None if leader is None else TUNING.format(task=task, model=leader, setting=setting)


def tuned_grids(params: Params, run_list: Iterable[Run]) -> list[tuple[str, str, str]]:
    """(TASK, MODEL, SETTING) of every grid `run_list` takes its settings from, each once."""
    found = {(r.task, tuning.leader(params, r.model), r.setting) for r in run_list}
    return sorted((task, model, setting) for task, model, setting in found if model)


def tuning_records(params: Params, run_list: Iterable[Run]) -> list[str]:
    """The tuning records `run_list` reads, each once, in order."""
    return [
        TUNING.format(task=task, model=model, setting=setting)
        for task, model, setting in tuned_grids(params, run_list)
    ]


def grid_summaries(
    params: Params, task: str, model: str, setting: str, profile: str, pattern: str = TUNE_SUMMARY
) -> list[str]:
    """The summary (or, with `pattern` TUNE_PROBE, the probe summary) of every grid point
    of a tuned MODEL in SETTING on TASK."""
    return [
        pattern.format(task=task, model=model, setting=setting, point=p.name)
        for p in tuning.grid(params, model, profile, task)
    ]


def pruning_record(params: Params, task: str, model: str, setting: str, profile: str) -> str | None:
    """The pruning record the grid of a tuned MODEL in SETTING on TASK goes by, if pruned."""
    if tuning.pruning(params, task, model, profile) is None:
        return None
    return PRUNING.format(task=task, model=model, setting=setting)


@dataclass(frozen=True, order=True)
class TagLM:
    """A pretrained tag language model (global energy) that some runs read."""

    task: str
    kind: str
    setting: str
    path: str

    @property
    def name(self) -> str:
        """`pos-tlm_c-paper`: its DVC stage name (`pretrain_tlm@...`)."""
        return f"{self.task}-{Path(self.path).stem}"


def pretrained_file(params: Params, task: str, model: str, setting: str) -> str | None:
    """The pretrained tag LM file a run of MODEL in SETTING on TASK reads, if any: the model's
    `global_energy.pretrained` with `{task}` and `{setting}` filled in."""
    spec = params.models["models"][model].get("global_energy") or {}
    if not spec.get("pretrained"):
        return None
    return str(spec["pretrained"].format(task=task, setting=setting))


def tag_lm(params: Params, task: str, model: str, setting: str) -> TagLM | None:
    """The tag LM the pipeline pretrains for a run of MODEL in SETTING on TASK, if any.

    `spen pretrain-tlm` builds `models/TASK/tlm/KIND.pt` or `KIND-SETTING.pt`; a `pretrained`
    file anywhere else is the user's own, read as it is and never rebuilt (nor overwritten).
    """
    path = pretrained_file(params, task, model, setting)
    if path is None or Path(path).parent != Path(TAG_LM_DIR.format(task=task)):
        return None
    spec = params.models["models"][model]["global_energy"]
    kind, _, named_setting = Path(path).stem.partition("-")
    if kind != spec["kind"] or named_setting not in ("", setting):
        raise ParamsError(
            f"params/models.yaml: models.{model}.global_energy.pretrained: '{path}' must be named "
            f"{spec['kind']}.pt or {spec['kind']}-{{setting}}.pt for the pipeline to build it"
        )
    # a tag-only LM (KIND.pt) reads no words: one file serves every setting
    return TagLM(task, kind, named_setting or DEFAULT_TAG_LM_SETTING, path)


def tag_lms(params: Params, run_list: Iterable[Run]) -> list[TagLM]:
    """The tag LMs `run_list` reads, each once."""
    found = {tag_lm(params, r.task, r.model, r.setting) for r in run_list}
    return sorted(t for t in found if t is not None)


def raw_dir(params: Params, task: str) -> str:
    """`data/raw/DIR` of `task`: where `spen fetch` puts its raw files."""
    return RAW_DIR.format(rawdir=params.task(task)["dir"])


def reads_features(params: Params, setting: str) -> bool:
    """Whether runs in input `setting` read encoder features (its `features` in params)."""
    return bool(params.models["settings"].get(setting, {}).get("features"))


def features(params: Params, task: str, setting: str) -> list[str]:
    """The feature files a run in `setting` on `task` reads ([] for a setting without)."""
    if not reads_features(params, setting):
        return []
    folder = FEATURES.format(task=task, setting=setting)
    return [f"{folder}/{name}" for name in FEATURE_FILES]


def prepared(task: str, names: Iterable[str] = PREPARED_FILES) -> list[str]:
    """The files of `data/TASK/` named `names`."""
    return [PREPARED.format(task=task, name=name) for name in names]


def report_inputs(params: Params, profile: str, root: Path = Path(".")) -> list[str]:
    """What the report reads besides the summary and curves: analyses and calibrations of
    every run, benchmarks, the encoder features' costs, the hand-run records under `root`
    (pipeline timings, projections, settings benchmarks, the joint-epochs runs and grids, GPU
    check), choices."""
    per_run = [run.path(p) for run in runs(params, profile) for p in (ANALYSIS, CALIBRATION)]
    exp = experiments(params, profile)
    benches = [BENCH.format(task=task) for task in exp["tasks"]]
    benches += [
        FEATURIZE_COST.format(task=task, setting=setting)
        for task in exp["tasks"]
        for setting in exp["settings"]
        if reads_features(params, setting)
    ]
    timings = sorted(
        path.relative_to(root).as_posix()
        for pattern in (PIPELINE_TIMES, PROJECTIONS, SETTING_BENCHES, *JOINT_EPOCHS_FILES)
        for path in root.glob(pattern)
    )
    gpu = [GPU_CHECK] if (root / GPU_CHECK).is_file() else []
    return [*per_run, *benches, *timings, *gpu, CHOICES]
