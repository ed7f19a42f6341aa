"""Tagging and decoding with a trained model restore it without what only training needs: no
optimizer is made (the first torch optimizer of a process imports torch's compiler) and the
metrics library is not imported, yet training a restored learner still works as before."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_spen import VOCAB, tiny_batch, tiny_config, vocabs

from spen.models.build import build_model
from spen.training.checkpoint import restore_learner

REPO = Path(__file__).resolve().parents[1]


def tiny_checkpoint(**overrides: object) -> dict[str, object]:
    """What a trained run's best.pt holds, for an untrained tiny model."""
    config = tiny_config(**overrides)
    torch.manual_seed(0)
    model = build_model(config, vocabs(), torch.randn(VOCAB, 6))
    return {
        "config": config.to_dict(),
        "vocab": vocabs().to_dict(),
        "embedding_shape": [VOCAB, 6],
        "model": model.state_dict(),
    }


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"kind": "local"}, {"model"}),
        ({"parameterization": "stacked"}, {"energy", "inference"}),
        ({"objective": "margin_rescaled"}, {"energy", "inference", "retune"}),
    ],
)
def test_a_restored_learner_makes_its_optimizers_only_to_train(
    overrides: dict[str, object], names: set[str]
) -> None:
    learner, _ = restore_learner(tiny_checkpoint(**overrides), torch.device("cpu"))
    learner.predict(tiny_batch())
    assert "optimizers" not in vars(learner)
    before = [p.detach().clone() for p in learner.model.parameters()]
    learner.train_step(tiny_batch())
    assert set(learner.optimizers) == names
    assert all(
        isinstance(o, torch.optim.Adam | torch.optim.SGD) for o in learner.optimizers.values()
    )
    changed = [
        not torch.equal(b, p) for b, p in zip(before, learner.model.parameters(), strict=True)
    ]
    assert any(changed)


def test_tagging_imports_neither_torch_compiler_nor_metrics(tmp_path: Path) -> None:
    checkpoint = tmp_path / "best.pt"
    torch.save(tiny_checkpoint(objective="margin_rescaled"), checkpoint)
    script = (
        "import sys\n"
        "import torch\n"
        "assert 'torch._dynamo' not in sys.modules, 'this torch imports its compiler at once'\n"
        "from pathlib import Path\n"
        "from spen import Tagger\n"
        f"tagged = Tagger.load(Path({str(checkpoint)!r}), device='cpu').predict(['w3 w4'], k=2)\n"
        "assert tagged[0].words == ['w3', 'w4'], tagged\n"
        "heavy = ('torch._dynamo', 'seqeval', 'sklearn', 'spen.training.loop')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
