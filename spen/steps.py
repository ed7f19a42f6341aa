"""The pipeline's steps, each declared once: the `spen` command it runs, the params keys it reads
and the code it imports.

Snakemake's rules (`workflow/rules/*.smk`, `shell: steps.snakemake_shell(STEP)`) and dvc.yaml
(`spen.dvc_yaml`, `steps.dvc_command(STEP)`) both render their commands from `COMMANDS`: a
template whose `{fields}` each tool fills with its own placeholders (`{wildcards.task}` for
Snakemake, `${item.task}` for DVC), so a job and its stage run the same command line
(tests/test_pipeline.py compares them, job by job).

Rerunning. DVC reruns a stage when the params keys of `reads` change or the code of `code_deps`
does; Snakemake's rules take the values of the same keys as a rerun trigger (`param_values`),
a grid point's rules its resolved configuration, and the digest of the same code
(`code_digest`, a rule's `params.code`): after any edit both tools rerun the same steps.
(Listing the code as inputs would not do: Snakemake's mtime rule would rerun every step after
any checkout.)
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path
from typing import Any

from spen.config import Params
from spen.layout import (
    ANALYSIS,
    BENCH,
    BENCH_DIR,
    CALIBRATION,
    CHECKPOINT,
    FEATURES,
    FEATURIZE_COST,
    PREDICTIONS,
    PRUNING,
    RUN_DIR,
    SCORES,
    SUMMARY,
    TUNE_DIR,
    TUNE_PROBE,
    TUNE_SUMMARY,
    TUNING,
)

#: Every step's command line. Fields: the run's {task} {model} {setting} {seed}, a grid's
#: {point} and {tuning_seed}, the run {profile}; {tuned} and {pruning} are empty or a leading
#: ` --tuned RECORD` / ` --pruning RECORD`; {probes}, {summaries} and {scores} are file lists;
#: a tag LM's {kind}, {lm_setting} and file {tag_lm}.
COMMANDS = {
    "fetch": "spen fetch {task} --dest data/raw",
    "preprocess": "spen preprocess {task} --raw data/raw --out data/{task}",
    "featurize": (
        f"spen featurize {{task}} --setting {{setting}} --profile {{profile}} --out {FEATURES}"
        f" --cost {FEATURIZE_COST}"
    ),
    "pretrain_tlm": (
        "spen pretrain-tlm {task} --kind {kind} --setting {lm_setting} --profile {profile}"
        " --out {tag_lm}"
    ),
    "train": (
        "spen train {task} {model} {setting} --seed {seed} --profile {profile}{tuned}"
        f" --out models/{RUN_DIR}"
    ),
    "tune_probe": (
        "spen train {task} {model} {setting} --seed {tuning_seed} --point {point}"
        f" --probe {TUNE_PROBE} --profile {{profile}} --out {TUNE_DIR}"
    ),
    "tune_prune": (
        "spen tune-prune {task} {model} {setting} {probes} --profile {profile}"
        f" --out {PRUNING}"
    ),
    "tune_train": (
        "spen train {task} {model} {setting} --seed {tuning_seed} --point {point}{pruning}"
        f" --profile {{profile}} --out {TUNE_DIR} --summary {TUNE_SUMMARY}"
    ),
    "tune_select": (
        "spen tune-select {task} {model} {setting} {summaries} --profile {profile}"
        f" --out {TUNING}"
    ),
    "decode": f"spen decode {CHECKPOINT} --split test --data data/{{task}} --out {PREDICTIONS}",
    "analyze": f"spen analyze {CHECKPOINT} --split test --data data/{{task}} --out {ANALYSIS}",
    "calibrate": (
        f"spen calibrate {CHECKPOINT} --split test --data data/{{task}} --out {CALIBRATION}"
    ),
    "score": f"spen score {PREDICTIONS} --out {SCORES}",
    "aggregate": f"spen aggregate {{scores}} --profile {{profile}} --out {SUMMARY}",
    "bench": f"spen bench {{task}} --profile {{profile}} --out {BENCH}",
    "report": f"spen report --summary {SUMMARY} --bench {BENCH_DIR} --out reports",
}

_RUN_FIELDS = ("task", "model", "setting", "seed", "point")
#: How a Snakemake rule names each field (a rule's own `params:` supply the rest)
SNAKEMAKE_FIELDS = {
    **{name: f"{{wildcards.{name}}}" for name in _RUN_FIELDS},
    "profile": "{params.profile}",
    "tuned": "{params.tuned}",
    "pruning": "{params.pruning}",
    "tuning_seed": "{params.seed}",
    "kind": "{params.kind}",
    "lm_setting": "{params.setting}",
    "tag_lm": "{output}",
    "probes": "{input}",
    "summaries": "{input}",
    "scores": "{input.scores}",
}
#: How a DVC stage names each field (`foreach`/`matrix` items; stages override the rest)
DVC_FIELDS = {
    **{name: f"${{item.{name}}}" for name in _RUN_FIELDS},
    "profile": "${profile}",
    "tuned": "",
    "pruning": "",
    "tuning_seed": "${tuning_seed}",
    "kind": "${item.kind}",
    "lm_setting": "${item.setting}",
    "tag_lm": "${item.path}",
    "probes": "${item.probe_args}",
    "summaries": "${item.summary_args}",
    "scores": "",
}


def command(step: str, **fields: str) -> str:
    """The command line of `step` with `fields` filled in (every field the template names)."""
    return COMMANDS[step].format(**fields)


def snakemake_shell(step: str, **fields: str) -> str:
    """A rule's `shell:` for `step`: its command with Snakemake's placeholders (`fields` replace
    some), one thread per job, everything it prints into the job's log."""
    return f"OMP_NUM_THREADS={{threads}} {command(step, **{**SNAKEMAKE_FIELDS, **fields})}" + (
        " > {log} 2>&1"
    )


def dvc_command(step: str, **fields: str) -> str:
    """A DVC stage's `cmd` for `step`: its command with DVC's templates (`fields` replace some)."""
    return command(step, **{**DVC_FIELDS, **fields})


PARAM_FILES = {
    name: f"params/{name}.yaml" for name in ("data", "models", "profiles", "experiments")
}
# The spen modules each step runs (as spen/cli.py imports them); its code dependencies are
# everything they import, found by `code_deps`. spen/cli.py itself is wiring, left out on
# purpose: adding a subcommand must not retrain every model. A step that computes with torch
# also runs `spen.cpu_kernels` (`import spen` runs it): the kernels it holds torch to.
KERNELS = "spen.cpu_kernels"
ENTRY_MODULES = {
    "fetch": ("spen.config", "spen.data.sources"),
    "preprocess": ("spen.config", "spen.data.preprocess"),
    "featurize": ("spen.config", "spen.data.featurize", "spen.data.prepared", KERNELS),
    "pretrain_tlm": (
        "spen.config",
        "spen.data.prepared",
        "spen.device",
        "spen.training.tag_lm",
        KERNELS,
    ),
    "train": ("spen.config", "spen.data.prepared", "spen.training.loop", "spen.tuning"),
    "tune_select": ("spen.tuning",),
    "decode": (
        "spen.data.prepared",
        "spen.device",
        "spen.evaluation.decode",
        "spen.training.checkpoint",
        KERNELS,
    ),
    "score": ("spen.data.vocab", "spen.evaluation.decode", "spen.evaluation.metrics", "spen.io"),
    "analyze": (
        "spen.data.prepared",
        "spen.device",
        "spen.evaluation.analysis",
        "spen.training.checkpoint",
        KERNELS,
    ),
    "calibrate": ("spen.calibration", "spen.measured", KERNELS),
    "aggregate": ("spen.aggregate",),
    "bench": ("spen.bench", "spen.config", "spen.data.prepared", "spen.device", "spen.layout"),
    "report": ("spen.report.build",),
}
# The tuning steps run the code of the step they are a form of.
ENTRY_MODULES.update(
    tune_probe=ENTRY_MODULES["train"],
    tune_train=ENTRY_MODULES["train"],
    tune_prune=ENTRY_MODULES["tune_select"],
)
PACKAGE_ROOT = Path(__file__).resolve().parent
#: what DVC leaves out when it hashes a code directory (.dvcignore says the same)
_NOT_CODE = ("__pycache__", ".pyc")


def reads(step: str, task: str, model: str = "", setting: str = "", profile: str = "") -> dict:
    """The params keys `step` reads, as DVC's `params:` wants them: {file: [dotted keys]}.

    Arguments may be DVC templates (`${item.task}`); `spen dvc-yaml` passes those.
    """
    data, models, profiles = PARAM_FILES["data"], PARAM_FILES["models"], PARAM_FILES["profiles"]
    experiment_list = PARAM_FILES["experiments"]
    if step == "fetch":
        return {data: ["raw", f"tasks.{task}.dir", f"tasks.{task}.files"]}
    if step == "preprocess":
        keys = ("dir", "format", "normalize", "splits")
        return {data: [f"tasks.{task}.{key}" for key in keys] + ["embeddings"]}
    if step == "featurize":  # the setting's encoder, and the profile's sentence limits
        return {models: [f"settings.{setting}.features"], profiles: [f"{profile}.overrides"]}
    if step == "bench":  # every model of the experiment list (as the profile narrows it)
        return {
            models: ["training", f"tasks.{task}", "settings", "models"],
            profiles: [profile],
            experiment_list: ["models"],
        }
    if step == "pretrain_tlm":  # tlm_a reads no input setting
        settings = [f"settings.{setting}"] if setting else []
        return {models: settings, profiles: [f"{profile}.overrides"]}
    if step == "train":
        return {
            data: [f"tasks.{task}.metric"],
            models: ["training", f"tasks.{task}", f"settings.{setting}", f"models.{model}"],
            profiles: [f"{profile}.overrides"],
        }
    return {}


def param_values(params: Params, keys: dict[str, list[str]]) -> dict[str, Any]:
    """The values of `keys` (as `reads` gives them): Snakemake's rerun trigger for a job."""
    tables = {f"params/{name}.yaml": getattr(params, name) for name in PARAM_FILES}
    values: dict[str, Any] = {}
    for file, dotted in keys.items():
        for key in dotted:
            value: Any = tables[file]
            for part in key.split("."):
                value = value.get(part, {}) if isinstance(value, dict) else None
            values[f"{file}:{key}"] = value
    return values


def code_deps(step: str, root: Path = PACKAGE_ROOT) -> list[str]:
    """The code `step` runs: every spen module its entry modules import, transitively.

    Given as `spen/SUBPACKAGE` directories and `spen/MODULE.py` files, relative to the project.
    """
    seen: set[str] = set()
    todo = list(ENTRY_MODULES[step])
    while todo:
        module = todo.pop()
        path = _module_path(module, root)
        if module in seen or path is None:
            continue
        seen.add(module)
        todo.extend(_spen_imports(path))
    deps = set()
    for module in seen:
        top = module.split(".")[1]
        deps.add(f"spen/{top}" if (root / top).is_dir() else f"spen/{top}.py")
    return sorted(deps)


@functools.cache
def code_digest(step: str, root: Path = PACKAGE_ROOT) -> str:
    """A SHA-256 of the files of `code_deps(step)` (names and bytes), as DVC hashes them:
    Snakemake's rerun trigger for the code a step runs (a rule's `params.code`)."""
    digest = hashlib.sha256()
    for dep in code_deps(step, root):
        path = root.parent / dep
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            relative = file.relative_to(root.parent).as_posix()
            if file.is_file() and not any(part in relative for part in _NOT_CODE):
                digest.update(relative.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def _module_path(module: str, root: Path) -> Path | None:
    rel = Path(*module.split(".")[1:])
    for candidate in (root / rel.with_suffix(".py"), root / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _spen_imports(path: Path) -> list[str]:
    """Modules of `spen` that `path` imports anywhere (module level or inside functions)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "spen":
                found.extend(f"spen.{alias.name}" for alias in node.names)
            elif node.module.startswith("spen."):
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(a.name for a in node.names if a.name.startswith("spen."))
    return found


# ---------------------------------------------------------------------------------------------
