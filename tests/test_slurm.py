"""The Slurm profile (workflow/profiles/slurm) is one the installed Snakemake and
snakemake-executor-plugin-slurm accept, and it gives every job what sbatch needs.

A dry run through the profile needs no cluster; .ci/slurm-smoke.sh runs the smoke pipeline on
a real one-node cluster (root, apt-get), in CI.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "workflow" / "profiles" / "slurm"


@pytest.mark.skipif(
    importlib.util.find_spec("snakemake_executor_plugin_slurm") is None,
    reason="snakemake-executor-plugin-slurm is not installed (dev extras)",
)
def test_every_job_of_the_slurm_profile_has_a_partition_runtime_and_memory() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--forceall", "--nolock"]
        + ["--workflow-profile", str(PROFILE), "--config", "profile=smoke"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    config = yaml.safe_load((PROFILE / "config.yaml").read_text())
    partitions = {config["default-resources"]["slurm_partition"]} | {
        res["slurm_partition"]
        for res in (config.get("set-resources") or {}).values()
        if "slurm_partition" in res
    }
    jobs = 0
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", done.stdout):
        head = re.match(r"(local)?rule (\w+):", block)
        if not head or head[2] == "all":
            continue
        assert not head[1], f"rule {head[2]} would run on the submitting host, not in Slurm"
        resources = dict(re.findall(r"(\w+)=([^,\s]+)", re.search(r"resources: (.*)", block)[1]))
        assert resources.get("slurm_partition") in partitions, (head[2], resources)
        assert int(resources["runtime"]) > 0 and int(resources["mem_mb"]) > 0, (head[2], resources)
        jobs += 1
    assert jobs > 0, done.stdout
