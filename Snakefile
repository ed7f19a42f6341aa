# The pipeline's entry point at the repository root (`snakemake --cores all` from here); the
# workflow itself, its rules, schemas and profiles, live in workflow/.
include: "workflow/Snakefile"


rule all:
    input:
        layout.REPORT,
    default_target: True
