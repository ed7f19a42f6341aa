"""What carrying the encoder's weights in float16 (a device batch, spen/device_batch.py) does
to the features: a task's dev split featurised with the packaged float32 weights and with
the batch's float16 stand-in (loaded back as float32), compared value by value, and after
both are stored as float16 (as `spen featurize` stores them).

    python scripts/encoder_half_check.py pos data/pos results/bench/encoder-float16-pos.json
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spen.config import load_params  # noqa: E402
from spen.data.featurize import ENCODERS, Encoder  # noqa: E402
from spen.data.prepared import load_prepared  # noqa: E402
from spen.device_batch import encoder_stand_in  # noqa: E402
from spen.io import write_json  # noqa: E402


def main(task: str, data: Path, out: Path) -> None:
    import transformers

    torch.set_num_threads(1)
    spec = load_params("params").run_config(task, "bilstm", "xfmr", 1, "paper").features
    words = load_prepared(data).split("dev").tokens
    packaged = Path(importlib.import_module(ENCODERS[spec.encoder]).get_model_path())
    tokenizer = transformers.AutoTokenizer.from_pretrained(packaged)
    with tempfile.TemporaryDirectory() as folder:
        for name, content in encoder_stand_in(spec.encoder, half=True).items():
            (Path(folder) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(folder) / name).write_bytes(content)
        halved = transformers.AutoModel.from_pretrained(
            Path(folder) / ENCODERS[spec.encoder] / "model"
        )
        full = transformers.AutoModel.from_pretrained(packaged)
        a = np.concatenate(Encoder(tokenizer, full, spec, "cpu").sentences(words))
        b = np.concatenate(Encoder(tokenizer, halved, spec, "cpu").sentences(words))
    stored_a, stored_b = a.astype(np.float16), b.astype(np.float16)
    result = {
        "task": task,
        "split": "dev",
        "sentences": len(words),
        "values": int(a.size),
        "loaded_dtype": str(next(halved.parameters()).dtype),
        "max_abs_difference": float(np.abs(a - b).max()),
        "mean_abs_difference": float(np.abs(a - b).mean()),
        "mean_abs_value": float(np.abs(a).mean()),
        "relative_l2": float(np.linalg.norm(a - b) / np.linalg.norm(a)),
        "float16_storage_max_abs_rounding": float(np.abs(a - stored_a.astype(np.float32)).max()),
        "stored_values_differing": float((stored_a != stored_b).mean()),
        "stored_max_abs_difference": float(
            np.abs(stored_a.astype(np.float32) - stored_b.astype(np.float32)).max()
        ),
    }
    write_json(out, result)
    print(result)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
