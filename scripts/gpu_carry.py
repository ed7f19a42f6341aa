"""What a GPU machine without package registries needs to run spen: the wheels for it.

    python scripts/gpu_carry.py wheels DEST      # here, where the registries are reachable
    python scripts/gpu_carry.py missing DIR      # there: the wheels of DIR its Python lacks

`wheels` downloads (for CPython 3.12 on x86-64 Linux, the GPU images' Python) one wheel per
distribution that spen's requirements (pyproject.toml, with the `bench` extra) need, at the
versions installed here, except the large compiled ones a CUDA image carries (torch, numpy,
pyarrow, scikit-learn and the like); spen/wheels.py does the work. `missing` prints the wheel
files whose distribution the running Python does not have, for `pip install --no-deps --target`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spen import wheels  # noqa: E402

#: what a CUDA PyTorch image carries
CARRIED_BY_THE_IMAGE = {
    "torch", "numpy", "pyarrow", "pandas", "scipy", "scikit-learn", "triton", "sympy",
    "networkx", "setuptools", "pip",
}  # fmt: skip

if __name__ == "__main__":
    verb, path = sys.argv[1], Path(sys.argv[2])
    if verb == "wheels":
        pins = wheels.closure(wheels.requirements(["bench"]), CARRIED_BY_THE_IMAGE)
        found = wheels.download(pins, path)
        size = sum(p.stat().st_size for p in found) >> 20
        print(f"{len(pins)} distributions, {size} MiB in {path}")
    else:
        print("\n".join(str(p) for p in wheels.missing(path)))
