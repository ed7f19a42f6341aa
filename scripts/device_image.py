"""An interpreter that holds what the device's image holds and nothing else, for rehearsing a
device batch on this machine (.ci/device-rehearsal.sh):

    python scripts/device_image.py DEST [SPEC]     # DEST/bin/python

A virtual environment whose only packages are links to this interpreter's installed
distributions that the spec's `image` lists (workflow/device/h200.yaml): torch, numpy,
pyarrow, jinja2, typer, transformers, pip and the rest; spen's other needs (Snakemake,
seqeval, ...) must come from the batch's wheels, as they must there.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from spen.device_batch import SPEC, load_spec  # noqa: E402
from spen.wheels import closure, key  # noqa: E402


def top_levels(dist: metadata.Distribution) -> set[str]:
    """The names a distribution puts into site-packages (packages, modules, its dist-info)."""
    return {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}


def main(dest: Path, spec_path: Path) -> None:
    image = set(closure(load_spec(spec_path).image, installed_only=True))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)
    ask = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    python = str(dest / "bin" / "python")
    found = subprocess.run([python, "-c", ask], capture_output=True, text=True, check=True)
    site = Path(found.stdout.strip())
    here = Path(sysconfig.get_paths()["purelib"])
    linked = 0
    for dist in metadata.distributions():
        if key(dist.metadata["Name"]) not in image:
            continue
        for name in top_levels(dist):
            source = here / name
            if source.exists() and not (site / name).exists() and name != "__pycache__":
                (site / name).symlink_to(source)
                linked += 1
    print(f"{dest}/bin/python: {linked} links to the image's distributions installed here")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else SPEC)
