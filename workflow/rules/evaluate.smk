# Evaluation: `spen decode` (test predictions), `spen score` (metrics), `spen aggregate` (table).


rule decode:
    """Tag the test split with a run's best checkpoint (CoNLL: token, gold, predicted)."""
    input:
        checkpoint=layout.CHECKPOINT,
        data=lambda w: layout.prepared(w.task, layout.DECODE_READS),
        features=features_input,
    output:
        layout.PREDICTIONS,
    params:
        code=steps.code_digest("decode"),  # its code: reruns as DVC does
    log:
        "logs/decode/{task}/{model}-{setting}/seed{seed}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        steps.snakemake_shell("decode")


rule analyze:
    """Exact (Viterbi) versus amortised (A_Ψ) inference and the energy gap of a SPEN run;
    `{"spen": false}` for a model without an inference network."""
    input:
        checkpoint=layout.CHECKPOINT,
        data=lambda w: layout.prepared(w.task, layout.DECODE_READS),
        features=features_input,
    output:
        layout.ANALYSIS,
    params:
        code=steps.code_digest("analyze"),  # its code: reruns as DVC does
    log:
        "logs/analyze/{task}/{model}-{setting}/seed{seed}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        steps.snakemake_shell("analyze")


rule calibrate:
    """Expected calibration error, reliability bins and NLL on test of a run's per-token
    distributions: the inference network's, and the exact marginals of a linear-chain energy."""
    input:
        checkpoint=layout.CHECKPOINT,
        data=lambda w: layout.prepared(w.task, layout.DECODE_READS),
        features=features_input,
    output:
        layout.CALIBRATION,
    params:
        code=steps.code_digest("calibrate"),  # its code: reruns as DVC does
    log:
        "logs/calibrate/{task}/{model}-{setting}/seed{seed}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        steps.snakemake_shell("calibrate")


rule score:
    """Token accuracy, and entity precision/recall/F1 for BIOES tags, of one run's predictions."""
    input:
        predictions=layout.PREDICTIONS,
    output:
        layout.SCORES,
    params:
        code=steps.code_digest("score"),  # its code: reruns as DVC does
    log:
        "logs/score/{task}/{model}-{setting}/seed{seed}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        steps.snakemake_shell("score")


rule aggregate:
    """Mean and std over seeds per task x model x setting; each run's learning curve."""
    input:
        scores=run_files(layout.SCORES),
        metrics=run_files(layout.TRAIN_LOG),
        timings=run_files(layout.TIMINGS),
    output:
        summary=layout.SUMMARY,
        curves=run_files(layout.CURVE),
    params:
        code=steps.code_digest("aggregate"),  # its code: reruns as DVC does
        profile=PROFILE,
    log:
        "logs/aggregate.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        steps.snakemake_shell("aggregate")
