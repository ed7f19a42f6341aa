"""Tagging text with a trained model: :class:`Tagger`, from a checkpoint alone.

    from spen import Tagger

    tagger = Tagger.load("models/pos/spen-paper/seed1/best.pt", device="cpu")
    for sentence in tagger.predict(["I love it", ["so", "much", "!"]], k=3):
        print(sentence.tags, sentence.confidences, sentence.search_error)

What a result holds depends on the parts of the model (`spen.models.build`):

- ``local`` (BiLSTM): an inference network only, so the per-token distribution; no energy.
- ``crf`` (BiLSTM-CRF): a linear-chain energy only (its output is Viterbi's); no inference
  network, so no network distribution.
- ``spen``: both, the test-time inference network ``A_Ψ`` and the linear-chain energy.
- ``spen`` with a global energy (a tag language model): the marginals, the k best sequences,
  the energy and the search error are those of the **linear-chain part** of the energy, which
  is a complete first-order energy of its own (the one `spen analyze` compares ``A_Ψ`` with);
  the full energy has no exact inference. Its energy with the global term added is
  ``full_energy``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch
from torch import Tensor, nn

from spen.chain_inference import energies_against_viterbi, k_best, marginals
from spen.data.arrow import Split, encode_sentences
from spen.data.batches import Batch, make_batches
from spen.data.features import FeatureTable
from spen.data.featurize import Encoder
from spen.data.readers import Sentence
from spen.data.vocab import Vocabularies
from spen.device import choose_device
from spen.inference.linear_chain import log_partition, one_hot
from spen.models.energy import LinearChainEnergy
from spen.models.local import LocalTagger
from spen.models.spen import SpenModel
from spen.run_config import FeatureSpec, RunConfig
from spen.training.checkpoint import checkpoint_config, load_checkpoint, restore_learner
from spen.training.learners import Learner

#: the output formats of :func:`render` (and of `spen tag --format`); the first is the default
FORMATS = ("conll", "text", "json")


@dataclass(frozen=True)
class TaggedToken:
    """One token's tag. `confidence` is the probability of `tag` under the distribution that
    chose it: the exact marginal when the output is Viterbi's (a CRF, or the `viterbi`
    decoder), else the inference network's. `distribution`: the inference network's
    probabilities by tag (None for a CRF); `marginals`: the exact marginals of the linear-chain
    energy by tag (None for a model without one)."""

    text: str
    tag: str
    confidence: float
    distribution: dict[str, float] | None
    marginals: dict[str, float] | None


@dataclass(frozen=True)
class ScoredTags:
    """A tag sequence with its linear-chain `energy` (lower is better) and its log-probability
    under ``p(y) ∝ exp(−energy)`` (the CRF's own distribution for a CRF)."""

    tags: tuple[str, ...]
    energy: float
    log_probability: float


@dataclass(frozen=True)
class TaggedSentence:
    """One sentence's output (module docstring: which fields a model fills; None otherwise).

    - `energy`: the linear-chain energy of the output tags;
    - `viterbi_energy`: the minimum of that energy (Viterbi's output);
    - `search_error`: ``energy − viterbi_energy``, ≥ 0 (0 when the output is Viterbi's);
    - `k_best`: the k lowest-energy tag sequences, best first (fewer when the sentence has
      fewer sequences);
    - `full_energy`: the energy with the global term added (models with a global energy).

    An empty sentence has no tokens and every other field None.
    """

    tokens: tuple[TaggedToken, ...]
    energy: float | None = None
    viterbi_energy: float | None = None
    search_error: float | None = None
    k_best: tuple[ScoredTags, ...] | None = None
    full_energy: float | None = None

    @property
    def words(self) -> list[str]:
        """The tokens' texts."""
        return [t.text for t in self.tokens]

    @property
    def tags(self) -> list[str]:
        """The tokens' tags."""
        return [t.tag for t in self.tokens]

    @property
    def confidences(self) -> list[float]:
        """The tokens' confidences."""
        return [t.confidence for t in self.tokens]

    def to_dict(self) -> dict[str, Any]:
        """The sentence as JSON-ready lists (`spen tag --format json` writes one per line)."""
        with_network = bool(self.tokens) and self.tokens[0].distribution is not None
        with_chain = self.k_best is not None
        return {
            "tokens": self.words,
            "tags": self.tags,
            "confidences": self.confidences,
            "distributions": [t.distribution for t in self.tokens] if with_network else None,
            "marginals": [t.marginals for t in self.tokens] if with_chain else None,
            "k_best": [
                {"tags": list(s.tags), "energy": s.energy, "log_probability": s.log_probability}
                for s in self.k_best
            ]
            if self.k_best is not None
            else None,
            "energy": self.energy,
            "viterbi_energy": self.viterbi_energy,
            "search_error": self.search_error,
            "full_energy": self.full_energy,
        }


@dataclass(frozen=True)
class _Outputs:
    """One batch's outputs, on the CPU: `tags` `(batch, seq_len)`, `confidence` `(batch,
    seq_len)`, `distribution` and `marginals` `(batch, seq_len, num_tags)`, `k_best_tags`
    `(batch, k, seq_len)`, `k_best_energy` `(batch, k)`, `log_z`, `energy`, `viterbi_energy`
    and `full_energy` `(batch,)`; None where the model lacks the part."""

    tags: Tensor
    confidence: Tensor
    distribution: Tensor | None
    marginals: Tensor | None
    k_best_tags: Tensor | None
    k_best_energy: Tensor | None
    log_z: Tensor | None
    energy: Tensor | None
    viterbi_energy: Tensor | None
    full_energy: Tensor | None


class Tagger:
    """A trained model that tags tokenized sentences (module docstring): made by :meth:`load`
    from a checkpoint, or from a restored `learner` with its vocabularies, the `device` it is
    on, whether it reads characters, the spec of its encoder features (None: none) and the run
    configuration it was trained with (None: not known). TypeError for a learner whose model is
    no spen model."""

    def __init__(
        self,
        learner: Learner,
        vocabs: Vocabularies,
        device: torch.device,
        uses_chars: bool,
        features: FeatureSpec | None = None,
        config: RunConfig | None = None,
    ) -> None:
        self.learner = learner
        self.vocabs = vocabs
        self.device = device
        self.uses_chars = uses_chars
        self.features = features
        self.config = config
        self._network = inference_network(learner.model)
        self._chain = linear_chain(learner.model)

    @classmethod
    def load(cls, checkpoint: str | os.PathLike[str], device: str = "auto") -> Tagger:
        """The tagger of a `spen train` checkpoint (`best.pt`), on `device` (auto, cpu, cuda).
        A model of an input setting with encoder features loads its encoder when it first tags
        (the `xfmr` extra must be installed). FileNotFoundError or ValueError for a file that is
        none."""
        torch_device = choose_device(device)
        state = load_checkpoint(checkpoint)
        try:
            config = checkpoint_config(state)
            learner, vocabs = restore_learner(state, torch_device)
        except (KeyError, TypeError, AttributeError, RuntimeError) as err:
            raise ValueError(
                f"{checkpoint}: not a spen checkpoint (a `spen train` best.pt): {err!r}"
            ) from err
        return cls(learner, vocabs, torch_device, config.uses_chars, config.features, config)

    @cached_property
    def encoder(self) -> Encoder | None:
        """The frozen encoder of the model's features (None: it reads none), loaded once."""
        return None if self.features is None else Encoder.load(self.features, str(self.device))

    @property
    def tag_names(self) -> tuple[str, ...]:
        """The tagset, in the order of the models' tag ids."""
        return self.vocabs.tags.tags

    @property
    def decoders(self) -> tuple[str, ...]:
        """The decoders `predict` accepts; the first, `test_time`, is the model's own."""
        return self.learner.decoders

    def predict(
        self,
        sentences: Iterable[str | Sequence[str]],
        batch_size: int = 64,
        *,
        k: int = 1,
        decoder: str = "test_time",
    ) -> list[TaggedSentence]:
        """Tag `sentences`, each a list of token strings or a string (split at whitespace).

        Words outside the model's vocabulary are read as `<unk>` (their characters still reach
        a character CNN when the model has one). `k`: how many best sequences of the linear
        chain to return; `decoder`: one of :attr:`decoders`.

        Returns:
            one :class:`TaggedSentence` per input sentence, in order.

        Raises:
            TypeError: `sentences` is a string, or a sentence or token is of another type.
            ValueError: an empty token or one with whitespace, `batch_size` or `k` below 1, an
                unknown decoder.
        """
        check_count("batch_size", batch_size)
        check_count("k", k)
        if decoder not in self.decoders:
            raise ValueError(
                f"unknown decoder '{decoder}'; this model has: {', '.join(self.decoders)}"
            )
        tokens = _sentences(sentences)
        nonempty = [i for i, t in enumerate(tokens) if t]
        result = [TaggedSentence(()) for _ in tokens]
        if not nonempty:
            return result
        placeholder = self.tag_names[0]
        split = Split.from_table(
            encode_sentences(
                [Sentence(tuple(tokens[i]), (placeholder,) * len(tokens[i]), 1) for i in nonempty],
                self.vocabs,
            )
        )
        encoder = self.encoder
        if encoder is not None:  # the setting reads encoder features, as `spen featurize`
            split = split.with_features(FeatureTable.of(encoder.sentences(split.tokens)))
        chars = self.vocabs.chars if self.uses_chars else None
        for batch in make_batches(split, batch_size, chars):
            outputs = self._outputs(batch.to(self.device), k, decoder)
            for b, row in enumerate(batch.index):
                result[nonempty[row]] = self._sentence(tokens[nonempty[row]], outputs, b)
        return result

    @torch.no_grad()
    def _outputs(self, batch: Batch, k: int, decoder: str) -> _Outputs:
        """Everything `predict` reports of one batch (see :class:`_Outputs`)."""
        self.learner.model.eval()
        tags = self.learner.predict(batch, decoder)
        mask = batch.mask
        distribution = None if self._network is None else self._network(batch).softmax(-1)
        exact = best_tags = best_energy = log_z = energy = minimum = full_energy = None
        if self._chain is not None:
            emissions, transitions = self._chain.emissions(batch), self._chain.transitions
            exact = marginals(emissions, transitions, mask)
            best_tags, best_scores = k_best(emissions, transitions, mask, k)
            best_energy = -best_scores
            log_z = log_partition(emissions, transitions, mask)
            energy, minimum = energies_against_viterbi(emissions, transitions, tags, mask)
            model = self.learner.model
            if isinstance(model, SpenModel) and model.global_energy is not None:
                labels = one_hot(tags, len(self.tag_names), dtype=emissions.dtype)
                (full_energy,) = model.energies(model.energy_inputs(batch), labels)
        # the output is Viterbi's (a CRF, or the viterbi decoder): its tags' marginals
        chosen = exact if distribution is None or decoder == "viterbi" else distribution
        assert chosen is not None  # a model has a network or a chain (checked at __init__)
        confidence = chosen.gather(-1, tags.unsqueeze(-1)).squeeze(-1)

        def cpu(x: Tensor | None) -> Tensor | None:
            return None if x is None else x.cpu()

        return _Outputs(
            tags=tags.cpu(),
            confidence=confidence.cpu(),
            distribution=cpu(distribution),
            marginals=cpu(exact),
            k_best_tags=cpu(best_tags),
            k_best_energy=cpu(best_energy),
            log_z=cpu(log_z),
            energy=cpu(energy),
            viterbi_energy=cpu(minimum),
            full_energy=cpu(full_energy),
        )

    def _sentence(self, words: list[str], out: _Outputs, b: int) -> TaggedSentence:
        """Row `b` of a batch's outputs as the result of the sentence `words`."""
        n, names = len(words), self.tag_names

        def by_tag(x: Tensor | None, t: int) -> dict[str, float] | None:
            return None if x is None else dict(zip(names, x[b, t].tolist(), strict=True))

        def scalar(x: Tensor | None) -> float | None:
            return None if x is None else float(x[b])

        tokens = tuple(
            TaggedToken(
                text=words[t],
                tag=names[int(out.tags[b, t])],
                confidence=float(out.confidence[b, t]),
                distribution=by_tag(out.distribution, t),
                marginals=by_tag(out.marginals, t),
            )
            for t in range(n)
        )
        if out.k_best_tags is None or out.k_best_energy is None or out.log_z is None:
            return TaggedSentence(tokens)
        log_z = float(out.log_z[b])
        best = tuple(
            ScoredTags(tuple(names[i] for i in ids[:n]), energy, -energy - log_z)
            for ids, energy in zip(
                out.k_best_tags[b].tolist(), out.k_best_energy[b].tolist(), strict=True
            )
            if math.isfinite(energy)
        )
        energy, minimum = scalar(out.energy), scalar(out.viterbi_energy)
        assert energy is not None and minimum is not None  # filled with the chain's outputs
        return TaggedSentence(
            tokens,
            energy=energy,
            viterbi_energy=minimum,
            search_error=energy - minimum,
            k_best=best,
            full_energy=scalar(out.full_energy),
        )


def inference_network(model: nn.Module) -> Callable[[Batch], Tensor] | None:
    """The test-time inference network of a trained `model`, as the function from a batch to
    its tag logits `(batch, seq_len, num_tags)`: the BiLSTM itself, a SPEN's ``A_Ψ``; None for
    a CRF (its output needs Viterbi). TypeError for a module that is no spen model."""
    if isinstance(model, LocalTagger):
        return model.logits
    if isinstance(model, SpenModel):
        return model.inference.test_time_logits
    if isinstance(model, LinearChainEnergy):
        return None
    raise TypeError(f"expected a spen model (local, crf or spen), not {type(model).__name__}")


def linear_chain(model: nn.Module) -> LinearChainEnergy | None:
    """The linear-chain energy of a trained `model` (a CRF's, a SPEN's first-order part); None
    for a BiLSTM."""
    if isinstance(model, SpenModel):
        return model.energy
    return model if isinstance(model, LinearChainEnergy) else None


def render(sentences: Sequence[TaggedSentence], fmt: str = "conll") -> str:
    """`sentences` as text in format `fmt` (one of :data:`FORMATS`):

    - ``conll``: ``token<TAB>tag`` lines, a blank line after each sentence (an empty sentence
      is the blank line alone);
    - ``text``: one line per sentence, its ``token/tag`` pairs separated by spaces;
    - ``json``: one JSON object per line (:meth:`TaggedSentence.to_dict`).
    """
    import json

    if fmt == "conll":
        return "".join("".join(f"{t.text}\t{t.tag}\n" for t in s.tokens) + "\n" for s in sentences)
    if fmt == "text":
        return "".join(" ".join(f"{t.text}/{t.tag}" for t in s.tokens) + "\n" for s in sentences)
    if fmt == "json":
        return "".join(json.dumps(s.to_dict(), ensure_ascii=False) + "\n" for s in sentences)
    raise ValueError(f"unknown format '{fmt}'; expected one of: {', '.join(FORMATS)}")


def check_count(name: str, value: object) -> None:
    """Refuse a `value` of `name` that is no integer of at least 1 (TypeError, ValueError);
    return None."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer of at least 1, not {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")


def _sentences(sentences: Iterable[str | Sequence[str]]) -> list[list[str]]:
    """The token lists of `sentences` (a string split at whitespace), checked."""
    if isinstance(sentences, str | bytes):
        raise TypeError(
            "sentences must be a list of sentences, not one string; for one sentence pass [text]"
        )
    if not isinstance(sentences, Iterable):
        raise TypeError(f"sentences must be a list of sentences, not {type(sentences).__name__}")
    found = []
    for number, sentence in enumerate(sentences, 1):
        if isinstance(sentence, str):
            found.append(sentence.split())
            continue
        if not isinstance(sentence, Sequence) or isinstance(sentence, bytes):
            raise TypeError(
                f"sentence {number}: expected a list of token strings or a string, "
                f"not {type(sentence).__name__}"
            )
        for position, token in enumerate(sentence, 1):
            if not isinstance(token, str):
                raise TypeError(
                    f"sentence {number}, token {position}: expected a string, "
                    f"not {type(token).__name__}"
                )
            if not token or token != "".join(token.split()):
                raise ValueError(
                    f"sentence {number}, token {position}: {token!r} is empty or holds "
                    "whitespace; expected a non-empty token without whitespace"
                )
        found.append(list(sentence))
    return found
