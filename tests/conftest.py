"""Shared fixtures: a throwaway project directory with the repository's params (the schemas are
package data: no checkout needed). The tests run torch on one thread, in this process and
in the ones it starts: the models are small, and a second thread only contends with whatever
else runs (measured: one tuning test took 12 s on one thread and over 200 s on two beside two
trainings)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker per usable core, at most 4 (each holds torch and starts
    Snakemake; more would trade memory for little)."""
    return min(len(os.sched_getaffinity(0)), 4)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of `params/` in a temporary project (no schemas: spen ships them), made the cwd.

    Its raw-data search path is the shared data mirror, downloads off.
    """
    shutil.copytree(REPO / "params", tmp_path / "params")
    data = yaml.safe_load((tmp_path / "params" / "data.yaml").read_text())
    data["raw"] = {"search_path": [str(SHARED_DATA)], "allow_download": False}
    (tmp_path / "params" / "data.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def needs_shared_data() -> pytest.MarkDecorator:
    """Skip a test when the raw-data mirror is not beside the checkout."""
    return pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} missing")
