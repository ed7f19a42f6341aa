# Configuration and the helpers that turn it into file lists. The runs, paths and params keys
# come from spen/layout.py and spen/steps.py, which `spen dvc-yaml` uses too: both tools build the
# same graph and run the same commands.

import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from spen import layout, steps, tuning
from spen.config import PARAM_FILES, SCHEMA_DIR, ParamsError, load_params

# `spen` is the one installed beside the Python running Snakemake (no need to activate it).
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])

CONFIG_KEYS = {
    "profile": "run profile of params/profiles.yaml (default: params/experiments.yaml)",
    "overwrite": "true: let this profile overwrite results another profile made",
}
unknown = sorted(set(config) - set(CONFIG_KEYS))
if unknown:
    raise WorkflowError(
        f"--config: unknown key(s) {', '.join(unknown)}; allowed: "
        + "; ".join(f"{k} ({v})" for k, v in CONFIG_KEYS.items())
    )

# The project: the folder holding workflow/ and params/ (absolute, so that a job Snakemake spawns
# in the profile's root finds it too).
PROJECT = Path(str(workflow.current_basedir)).resolve().parents[1]
try:
    # Every params file against its schema, then the names across files (spen.config).
    PARAMS = load_params(PROJECT / "params")
    PROFILE = layout.active_profile(PARAMS, config.get("profile"))
    # A profile with a root of its own (params/profiles.yaml: smoke -> runs/smoke) runs every job
    # there, beside links to the project's params/ and docs/: its outputs never touch results/.
    if layout.profile_root(PARAMS, PROFILE) != ".":
        workflow.workdir(layout.enter_profile_root(PROJECT, layout.profile_root(PARAMS, PROFILE)))
except ParamsError as err:
    raise WorkflowError(f"invalid params: {err}") from None


onstart:
    # Before the first job of a real run (a dry run writes nothing, so it may look): never
    # overwrite the results another run profile made.
    if str(config.get("overwrite", "false")).lower() != "true":
        try:
            layout.check_no_overwrite(PARAMS, PROFILE, Path.cwd())
        except ParamsError as err:
            raise WorkflowError(str(err)) from None


# The same schemas through Snakemake's validator (honours --skip-validation hooks of modules).
for name in PARAM_FILES:
    validate(getattr(PARAMS, name), str(SCHEMA_DIR / f"{name}.schema.yaml"))

RUNS = layout.runs(PARAMS, PROFILE)
TASKS = layout.experiments(PARAMS, PROFILE)["tasks"]
TASK_OF_RAWDIR = {PARAMS.task(task)["dir"]: task for task in TASKS}


wildcard_constraints:
    task=r"[a-z0-9_]+",
    model=r"[a-z0-9_]+",
    setting="|".join(map(re.escape, PARAMS.models["settings"])),
    seed=r"\d+",
    point=r"[a-z0-9_]+",
    rawdir="|".join(map(re.escape, TASK_OF_RAWDIR)),


def run_files(pattern):
    """`pattern` (a spen.layout path) for every run of the active profile."""
    return [run.path(pattern) for run in RUNS]


def raw_dir(wildcards):
    """data/raw/DIR of the job's task."""
    return layout.raw_dir(PARAMS, wildcards.task)


def tuned_input(wildcards):
    """The tuning record a run takes its settings from, once its checkpoint `tune_select` has
    run ([] for a model the protocol does not tune)."""
    path = layout.tuning_record(PARAMS, wildcards.task, wildcards.model, wildcards.setting)
    if path is None:
        return []
    leader = tuning.leader(PARAMS, wildcards.model)
    return checkpoints.tune_select.get(
        task=wildcards.task, model=leader, setting=wildcards.setting
    ).output[0]


def point_config(wildcards):
    """A grid point's resolved training configuration (`spen train --point`), as a plain
    dict (every setting, defaults included: a param Snakemake can compare, which changes
    exactly when a value does). A function of the wildcards alone: Snakemake takes a params
    function that reads `input` as derived and leaves it out of its rerun trigger."""
    base = PARAMS.run_config(
        wildcards.task, wildcards.model, wildcards.setting, PARAMS.tuning["seed"], PROFILE
    )
    point = tuning.point(PARAMS, wildcards.model, PROFILE, wildcards.point, wildcards.task)
    tuned = point.overrides(PARAMS, base.kind, base.objective)
    return PARAMS.run_config(
        wildcards.task,
        wildcards.model,
        wildcards.setting,
        PARAMS.tuning["seed"],
        PROFILE,
        tuned,
    ).to_dict()


def reads(step):
    """Input function: the values of the params keys `step` reads (its rerun trigger)."""

    def values(wildcards):
        w = dict(wildcards)
        keys = steps.reads(
            step,
            w.get("task") or TASK_OF_RAWDIR.get(w.get("rawdir"), ""),
            w.get("model", ""),
            w.get("setting") or w.get("name", "").partition("-")[2],  # pretrain_tlm: KIND-SETTING
            PROFILE,
        )
        return steps.param_values(PARAMS, keys)

    return values


def flag(option, value):
    """` OPTION VALUE` for a command's optional argument, or "" when `value` is empty."""
    return f" {option} {value}" if value else ""


def features_input(wildcards):
    """The encoder features a job of the run's input setting reads, if any (rule featurize);
    a tag LM's setting is the part of its name after KIND."""
    w = dict(wildcards)
    setting = w.get("setting") or w.get("name", "").partition("-")[2]
    return layout.features(PARAMS, w["task"], setting)


def tag_lm_input(wildcards):
    """The pretrained tag LM the run's global energy reads, if any (rule pretrain_tlm builds
    the pipeline's own; a file elsewhere is the user's)."""
    lm = layout.pretrained_file(PARAMS, wildcards.task, wildcards.model, wildcards.setting)
    return [] if lm is None else [lm]


# The steps whose outputs a grid point reads and every machine rebuilds (never versioned in git),
# and the code each runs, hashed once.
REBUILT_BY = ("preprocess", "featurize", "pretrain_tlm")
REBUILT_CODE = {step: steps.code_digest(step) for step in REBUILT_BY}


def rebuilt_inputs(wildcards):
    """A grid point's prepared data, encoder features and tag LM, flagged ancient: they are
    rebuilt on every machine, so a copy newer than the point's versioned summary says nothing
    of its content (what made them is the job's `made_by` param instead)."""
    return ancient(
        layout.prepared(wildcards.task, layout.TRAIN_READS)
        + features_input(wildcards)
        + tag_lm_input(wildcards)
    )


def made_by(wildcards):
    """What decides the content of a grid point's rebuilt inputs: the params values and code of
    each step that makes them (a change reruns the point, as a changed hash does under DVC)."""
    makers = ["preprocess"]
    if features_input(wildcards):
        makers.append("featurize")
    if tag_lm_input(wildcards):
        makers.append("pretrain_tlm")
    return {step: [REBUILT_CODE[step], reads(step)(wildcards)] for step in makers}


def base_config(wildcards):
    """The job's configuration before tuning (device and budget, which no grid changes)."""
    return PARAMS.run_config(wildcards.task, wildcards.model, wildcards.setting, 1, PROFILE)


def train_gpus(wildcards):
    """1 GPU unless the run is pinned to the CPU (params `device: cpu`)."""
    return 0 if base_config(wildcards).device == "cpu" else 1


def train_minutes(wildcards):
    """Generous wall-time guess for a cluster: 30 min plus 10 per epoch of the budget."""
    return 30 + 10 * base_config(wildcards).max_epochs

