# The report: `spen report` renders results/summary.json, each run's own files (train.json,
# learning curves, analysis.json) and the decode benchmarks (`spen bench`) into reports/.


rule bench:
    """Decoding throughput on TASK's test split (inference network, Viterbi and the peers) and
    every model's training throughput on its first training sentences."""
    input:
        data=lambda w: layout.prepared(w.task, layout.BENCH_READS),
    output:
        layout.BENCH,
    params:
        code=steps.code_digest("bench"),  # its code: reruns as DVC does
        reads=reads("bench"),
        profile=PROFILE,
    log:
        "logs/bench/{task}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        steps.snakemake_shell("bench")


rule report:
    """reports/index.html (inline CSS) and its Markdown twin, both showing the charts in
    reports/figures/: our figures beside the paper's (spen/report/paper.yaml), the claims'
    forest plot, learning curves, speed, environment."""
    input:
        summary=layout.SUMMARY,
        curves=run_files(layout.CURVE),
        others=layout.report_inputs(PARAMS, PROFILE),
    output:
        html="reports/index.html",
        md="reports/index.md",
        figures=directory("reports/figures"),
    params:
        code=steps.code_digest("report"),  # its code: reruns as DVC does
    log:
        "logs/report.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        steps.snakemake_shell("report")
