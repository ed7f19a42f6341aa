"""Shared fixtures: a throwaway project directory with the repository's params (the schemas are
package data: no checkout needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


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
