# The report: `spen report` renders results/summary.json into reports/.


rule report:
    """The HTML report of the summary table. Not yet part of `rule all`: it needs `spen report`,
    which is not written yet; ask for it by name (`snakemake report`) once it is."""
    input:
        summary=pipeline.SUMMARY,
        data=expand(pipeline.PREPARED, task=TASKS, name="summary.json"),
    output:
        "reports/index.html",
    log:
        "logs/report.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "spen report {input.summary} --out {output} > {log} 2>&1"
