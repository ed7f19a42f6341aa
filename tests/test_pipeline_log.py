"""Pipeline wall time from a Snakemake log, against a hand count on a small log."""

from __future__ import annotations

from pathlib import Path

import pytest

from spen.pipeline_log import PipelineLogError, summarise_log

LOG = """\
Building DAG of jobs...
Provided cores: 2
[Wed Nov 25 16:56:25 2026]
localrule fetch:
    output: data/raw/twpos-v0.3
    jobid: 4
[Wed Nov 25 16:56:27 2026]
Finished jobid: 4 (Rule: fetch)
1 of 3 steps (33%) done
[Wed Nov 25 16:56:27 2026]
rule train:
    jobid: 7
    wildcards: task=pos, model=bilstm, setting=paper, seed=1
[Wed Nov 25 16:56:28 2026]
rule train:
    jobid: 8
[Wed Nov 25 16:57:41 2026]
Finished jobid: 8 (Rule: train)
2 of 3 steps (67%) done
[Wed Nov 25 16:59:28 2026]
Finished jobid: 7 (Rule: train)
3 of 3 steps (100%) done
"""


def test_wall_time_and_job_time_by_hand(tmp_path: Path) -> None:
    path = tmp_path / "run.snakemake.log"
    path.write_text(LOG)
    found = summarise_log(path)
    assert found["wall_seconds"] == 3 * 60 + 3  # 16:56:25 -> 16:59:28
    assert found["rules"]["fetch"] == {"jobs": 1, "seconds": 2.0, "max": 2.0}
    assert found["rules"]["train"] == {"jobs": 2, "seconds": 181.0 + 73.0, "max": 181.0}
    assert found["job_seconds"] == 2.0 + 181.0 + 73.0
    assert found["cores"] == 2 and found["complete"] is True


def test_an_unfinished_run_is_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    path.write_text(LOG.rsplit("[Wed Nov 25 16:59:28 2026]", 1)[0])
    found = summarise_log(path)
    assert found["complete"] is False
    assert found["rules"]["train"]["jobs"] == 1


def test_a_file_without_stamps_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("nothing here\n")
    with pytest.raises(PipelineLogError, match="notes.txt"):
        summarise_log(path)
