# Training: `spen train`. The run directory's resume/ state (resume/last.pt) is not an output,
# so Snakemake never deletes it: a killed run picks up after its last finished epoch.


rule pretrain_tlm:
    """The tag language model of a global energy, pretrained on the gold tag sequences; NAME is
    KIND (tlm_a) or KIND-SETTING (tlm_b, tlm_c read the words as SETTING encodes them)."""
    input:
        data=lambda w: layout.prepared(w.task, layout.TRAIN_READS),
        features=features_input,
    output:
        layout.TAG_LM,
    params:
        code=steps.code_digest("pretrain_tlm"),  # its code: reruns as DVC does
        kind=lambda w: w.name.partition("-")[0],
        setting=lambda w: w.name.partition("-")[2] or layout.DEFAULT_TAG_LM_SETTING,
        reads=reads("pretrain_tlm"),
        profile=PROFILE,
    log:
        "logs/pretrain_tlm/{task}/{name}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        steps.snakemake_shell("pretrain_tlm")


rule train:
    """One run: MODEL in input SETTING on TASK with SEED, under the active run profile."""
    input:
        data=lambda w: layout.prepared(w.task, layout.TRAIN_READS),
        features=features_input,
        tag_lm=tag_lm_input,
        tuned=tuned_input,
    output:
        best=layout.CHECKPOINT,
        metrics=layout.TRAIN_LOG,
        summary=layout.TRAIN_SUMMARY,
        timings=layout.TIMINGS,
    params:
        code=steps.code_digest("train"),  # its code: reruns as DVC does
        # The values of the params keys it reads, as DVC's stage names them: a change reruns
        # this run (a changed tuning record is a changed input file).
        reads=reads("train"),
        profile=PROFILE,
        # the record's path (known before the checkpoint has run, so a dry run prints it)
        tuned=lambda w: flag("--tuned", layout.tuning_record(PARAMS, w.task, w.model, w.setting)),
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
        steps.snakemake_shell("train")
