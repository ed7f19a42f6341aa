# Training: `spen train`. The run directory's resume/ state (resume/last.pt) is not an output,
# so Snakemake never deletes it: a killed run picks up after its last finished epoch.


rule train:
    """One run: MODEL in input SETTING on TASK with SEED, under the active run profile."""
    input:
        data=lambda w: pipeline.prepared(w.task, pipeline.TRAIN_READS),
    output:
        best=pipeline.CHECKPOINT,
        metrics=pipeline.TRAIN_LOG,
        summary=pipeline.TRAIN_SUMMARY,
    params:
        # The resolved configuration: a change to any level of it reruns this run only.
        run=run_config,
        profile=PROFILE,
        out=lambda w, output: Path(output.best).parent,
    log:
        "logs/train/{task}/{model}-{setting}/seed{seed}.log",
    # One thread: at batch 10 a second thread slows a CPU training down (POS compound-separated,
    # 517 vs 466 sentences/s), so two one-thread trainings use 2 cores best.
    threads: 1
    resources:
        mem_mb=4000,
        runtime=train_minutes,
        gpu=train_gpus,
    shell:
        "OMP_NUM_THREADS={threads} spen train {wildcards.task} {wildcards.model}"
        " {wildcards.setting} --seed {wildcards.seed} --profile {params.profile}"
        " --out {params.out} > {log} 2>&1"
