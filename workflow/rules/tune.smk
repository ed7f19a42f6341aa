# The tuning protocol (params/tuning.yaml): every grid point of a tuned model trained once with
# the protocol's seed (`spen train --point`), then the point with the best dev score chosen
# (`spen tune-select`). `snakemake tune` runs this stage alone; the main runs read the choice.
# Where the task has a pruning rule, each point first trains its probe epochs (tune_probe), the
# best few are kept (tune_prune), and tune_train takes the others no further.


rule tune_probe:
    """A grid point's first epochs (the pruning rule's probe): its summary, versioned in git;
    its resume state stays in the point's run directory for tune_train to go on from."""
    input:
        rebuilt=rebuilt_inputs,
    output:
        layout.TUNE_PROBE,
    params:
        code=steps.code_digest("tune_probe"),  # its code: reruns as DVC does
        run=point_config,
        made_by=made_by,
        seed=PARAMS.tuning["seed"],
        profile=PROFILE,
    log:
        "logs/tune_probe/{task}/{model}-{setting}/{point}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=train_minutes,
        gpu=train_gpus,
    shell:
        steps.snakemake_shell("tune_probe")


rule tune_prune:
    """The grid points that go on after their probe epochs (the task's pruning rule)."""
    input:
        lambda w: layout.grid_summaries(
            PARAMS, w.task, w.model, w.setting, PROFILE, layout.TUNE_PROBE
        ),
    output:
        layout.PRUNING,
    params:
        code=steps.code_digest("tune_prune"),  # its code: reruns as DVC does
        profile=PROFILE,
    log:
        "logs/tune_prune/{task}/{model}-{setting}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        steps.snakemake_shell("tune_prune")


rule tune_train:
    """One grid point of a tuned MODEL in SETTING on TASK: trained and scored on dev only. Its
    output is its summary, versioned in git; its checkpoints stay in its run directory (the
    chosen point's resume state saves its main run of the same seed the training), outside
    what decides a rerun, so that a grid interrupted on one machine goes on from its finished
    points on another."""
    input:
        rebuilt=rebuilt_inputs,
        # versioned in git beside the points, which a clone writes before it: judged by the
        # pruning rule (a param) and by its probes' code, which the point shares
        pruning=lambda w: ancient(
            layout.pruning_record(PARAMS, w.task, w.model, w.setting, PROFILE) or []
        ),
    output:
        layout.TUNE_SUMMARY,
    params:
        code=steps.code_digest("tune_train"),  # its code: reruns as DVC does
        run=point_config,
        made_by=made_by,
        pruning_rule=lambda w: tuning.pruning(PARAMS, w.task, w.model, PROFILE),
        seed=PARAMS.tuning["seed"],
        profile=PROFILE,
        pruning=lambda w, input: flag("--pruning", input.pruning),
    log:
        "logs/tune/{task}/{model}-{setting}/{point}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=train_minutes,
        gpu=train_gpus,
    shell:
        steps.snakemake_shell("tune_train")


checkpoint tune_select:
    """The tuning record: every grid point's dev figures and the chosen point (a checkpoint:
    the main runs' settings are known once it exists)."""
    input:
        lambda w: layout.grid_summaries(PARAMS, w.task, w.model, w.setting, PROFILE),
    output:
        layout.TUNING,
    params:
        code=steps.code_digest("tune_select"),  # its code: reruns as DVC does
        profile=PROFILE,
    log:
        "logs/tune_select/{task}/{model}-{setting}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        steps.snakemake_shell("tune_select")


rule tune:
    """Every tuning record the main runs of the active profile read."""
    input:
        layout.tuning_records(PARAMS, RUNS),
