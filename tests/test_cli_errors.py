"""Bad input and bad parameters reach the user as one clear line, exit status 2, no output."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from spen.cli import app
from tests.conftest import needs_shared_data

GOOD_POS = "I\tO\nwin\tV\n\nok\t!\n"


def fail(*args: str, input: str | bytes | None = None) -> str:
    result = CliRunner().invoke(app, list(args), input=input)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output


def write_raw(project: Path, task: str, train: str | bytes, dev: str | bytes, test: str) -> None:
    """Raw files of `task` under data/raw, and a params file whose checksums accept them."""
    params = yaml.safe_load((project / "params" / "data.yaml").read_text())
    spec = params["tasks"][task]
    root = project / "data" / "raw" / spec["dir"]
    root.mkdir(parents=True)
    for split, text in (("train", train), ("dev", dev), ("test", test)):
        data = text.encode() if isinstance(text, str) else text
        name = spec["splits"][split]
        (root / name).write_bytes(data)
        spec["files"][name] = {"sha256": hashlib.sha256(data).hexdigest()}
    params["raw"]["search_path"] = ["data/raw"]
    (project / "params" / "data.yaml").write_text(yaml.safe_dump(params))


def raw_pos(project: Path, train: str | bytes, dev: str | bytes = GOOD_POS) -> None:
    """Raw POS files (train and dev as given, test a valid tweet)."""
    write_raw(project, "pos", train, dev, GOOD_POS)


@pytest.mark.parametrize(
    ("train", "dev", "line", "words"),
    [
        ("I\tO\nwin\tV\textra\n", GOOD_POS, 2, "3 column(s)"),
        ("I\tO\nwin\n", GOOD_POS, 2, "1 column(s)"),
        (b"I\tO\nw\xffn\tV\n", GOOD_POS, 2, "UTF-8"),
        ("", GOOD_POS, None, "empty"),
        ("\n\n  \n", GOOD_POS, None, "no sentences"),
        (GOOD_POS, "I\tO\nwin\tQ\n", 2, "training tagset lacks"),
    ],
    ids=["columns", "truncated", "not-utf8", "empty", "blank-only", "unknown-tag"],
)
def test_bad_raw_pos_file(
    project: Path, train: str | bytes, dev: str, line: int | None, words: str
) -> None:
    raw_pos(project, train, dev)
    message = fail("preprocess", "pos")
    bad = "oct27.test" if dev != GOOD_POS else "oct27.traindev"
    location = f"{bad}:{line}:" if line else f"{bad}:"
    assert location in message
    assert words.lower() in message.lower()
    assert not (project / "data" / "pos").exists()


def test_crlf_and_bom_are_accepted(project: Path) -> None:
    raw_pos(project, "\ufeff" + GOOD_POS.replace("\n", "\r\n"))
    result = CliRunner().invoke(app, ["preprocess", "pos"])
    assert result.exit_code == 0, result.output
    assert '"train": 2' in result.output


def test_checksum_mismatch_is_refused(project: Path) -> None:
    raw_pos(project, GOOD_POS)
    (project / "data" / "raw" / "twpos-v0.3" / "oct27.traindev").write_text(GOOD_POS + "x\tN\n")
    message = fail("fetch", "pos")
    assert "oct27.traindev" in message and "expected" in message
    assert "update the pinned checksum" in message


def test_missing_conll_says_where_to_put_it(project: Path) -> None:
    params = yaml.safe_load((project / "params" / "data.yaml").read_text())
    params["raw"]["search_path"] = ["data/raw"]
    (project / "params" / "data.yaml").write_text(yaml.safe_dump(params))
    message = fail("fetch", "ner")
    assert "put the file at" in message
    assert str(project / "data/raw/conll2003/eng.") in message


@needs_shared_data()
def test_ragged_embeddings_file(project: Path) -> None:
    vectors = project / "vectors.txt"
    vectors.write_text("the 0.1 0.2 0.3\nof 0.1 0.2\n")
    params = yaml.safe_load((project / "params" / "data.yaml").read_text())
    params["embeddings"]["source"] = str(vectors)
    (project / "params" / "data.yaml").write_text(yaml.safe_dump(params))
    assert CliRunner().invoke(app, ["fetch", "pos"]).exit_code == 0
    message = fail("preprocess", "pos")
    assert "vectors.txt:2:" in message
    assert not (project / "data" / "pos" / "train.arrow").exists()


@pytest.mark.parametrize(
    ("file", "edit", "key"),
    [
        ("experiments", lambda p: p["models"].append("no_such_model"), "no_such_model"),
        ("models", lambda p: p["training"]["optimizer"].update(lr=-1), "training.optimizer.lr"),
        ("models", lambda p: p["training"].update(batch_size="ten"), "training.batch_size"),
        ("data", lambda p: p["tasks"]["pos"].update(format="json"), "tasks.pos.format"),
        ("profiles", lambda p: p["smoke"]["overrides"].update(max_epochs=0), "max_epochs"),
    ],
    ids=["unknown-model", "negative-lr", "wrong-type", "bad-enum", "bad-override"],
)
def test_bad_params_name_the_key(project: Path, file: str, edit, key: str) -> None:
    path = project / "params" / f"{file}.yaml"
    params = yaml.safe_load(path.read_text())
    edit(params)
    path.write_text(yaml.safe_dump(params))
    message = fail("train", "pos", "bilstm", "paper", "--profile", "smoke")
    assert key in message


def test_tag_rejects_non_utf8_naming_the_line(tmp_path: Path) -> None:
    text = tmp_path / "in.txt"
    text.write_bytes(b"fine\ncaf\xe9 ok\n")
    message = fail("tag", str(tmp_path / "missing.pt"), str(text))
    assert f"{text}:2: invalid UTF-8 byte 0xe9 at byte offset 8" in message


def test_decode_missing_checkpoint(tmp_path: Path) -> None:
    message = fail("decode", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "x.conll"))
    assert "nope.pt" in message and "spen train" in message
    assert not (tmp_path / "x.conll").exists()


def raw_ner(project: Path, train: str) -> None:
    """Raw NER files (train as given, dev and test a valid sentence)."""
    good = "EU NNP I-NP S-ORG\nrejects VBZ I-VP O\n"
    write_raw(project, "ner", train, good, good)


@pytest.mark.parametrize(
    ("train", "line"),
    [
        ("EU NNP I-NP B-ORG\nrejects VBZ I-VP O\n", 2),
        ("EU NNP I-NP S-ORG\nrejects VBZ I-VP E-ORG\n", 2),
        ("-DOCSTART- -X- -X- O\n\nPeter NNP I-NP B-PER\nBlack NNP I-NP E-LOC\n", 4),
        ("Peter NNP I-NP B-PER\n", 1),
    ],
    ids=["B-then-O", "E-after-S", "type-change", "ends-inside"],
)
def test_invalid_bioes_in_gold_data(project: Path, train: str, line: int) -> None:
    raw_ner(project, train)
    message = fail("preprocess", "ner")
    assert f"eng.train.bioes.conll:{line}:" in message
    assert not (project / "data" / "ner").exists()


def test_blank_runs_and_a_10000_token_sentence_are_read(project: Path) -> None:
    long_sentence = "".join(f"w{i}\tN\n" for i in range(10_000))
    raw_pos(project, GOOD_POS + "\n\n\n\n" + long_sentence + "\n\n")
    result = CliRunner().invoke(app, ["preprocess", "pos"])
    assert result.exit_code == 0, result.output
    from spen.data.arrow import read_split

    lengths = [len(t) for t in read_split(project / "data" / "pos" / "train.arrow").tokens]
    assert lengths == [2, 1, 10_000]


@pytest.fixture
def tiny_model(project: Path) -> Path:
    raw_pos(project, GOOD_POS * 5)
    for args in (
        ["preprocess", "pos"],
        ["train", "pos", "bilstm", "plus", "--profile", "smoke", "--out", "run"],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    return project / "run" / "best.pt"


def test_tag_handles_long_lines_non_latin_text_and_blank_lines(tiny_model: Path) -> None:
    lines = ["東京 に 行く", "", "Привет мир !", " ".join(["word"] * 5000), "   "]
    result = CliRunner().invoke(
        app, ["tag", str(tiny_model), "--device", "cpu"], input="\n".join(lines) + "\n"
    )
    assert result.exit_code == 0, result.output
    sentences: list[list[str]] = [[]]
    for row in result.output.splitlines():
        if row:
            sentences[-1].append(row)
        else:
            sentences.append([])
    assert [len(s) for s in sentences[:5]] == [3, 0, 3, 5000, 0]
    assert sentences[0][0].split("\t")[0] == "東京"
    assert {row.split("\t")[1] for s in sentences for row in s} <= {"O", "V", "!"}


def test_interrupted_write_keeps_the_previous_file(tmp_path: Path) -> None:
    from spen.io import atomic_open

    target = tmp_path / "metrics.json"
    target.write_text("previous")
    with pytest.raises(KeyboardInterrupt), atomic_open(target) as handle:
        handle.write("half of the new")
        raise KeyboardInterrupt
    assert target.read_text() == "previous"
    assert list(tmp_path.iterdir()) == [target]


def test_pipeline_time_refuses_a_file_that_is_no_snakemake_log(tmp_path: Path) -> None:
    notes = tmp_path / "notes.log"
    notes.write_text("not a log\n")
    out = tmp_path / "pipeline-x.json"
    message = fail("pipeline-time", str(notes), "--name", "x", "--out", str(out))
    assert "notes.log" in message and "Snakemake" in message
    assert not out.exists()


@pytest.mark.parametrize("command", [["bench", "pos"], ["train", "pos", "bilstm", "paper"]])
def test_an_unknown_device_is_refused_naming_the_choices(command: list[str]) -> None:
    output = fail(*command, "--device", "gpu")
    words = " ".join(output.replace("│", " ").split())  # the message wraps inside a box
    assert "'gpu' is not one of 'auto', 'cpu', 'cuda'" in words


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: cuda is no error")
def test_cuda_on_a_machine_without_a_gpu_is_one_line(tiny_model: Path) -> None:
    output = fail("tag", str(tiny_model), "--device", "cuda", input="a b\n")
    assert "no CUDA device" in output and "--device cpu" in output
    out = tiny_model.parent.parent / "cuda-run"
    output = fail(
        "train",
        "pos",
        "bilstm",
        "plus",
        "--profile",
        "smoke",
        "--device",
        "cuda",
        "--out",
        str(out),
    )
    assert "no CUDA device" in output
    assert not out.exists()


def test_encoder_features_without_the_extra_name_the_install_command(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw_pos(project, GOOD_POS * 5)
    assert CliRunner().invoke(app, ["preprocess", "pos"]).exit_code == 0
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if not installed
    out = project / "features"
    output = fail("featurize", "pos", "--setting", "xfmr", "--out", str(out))
    assert "pip install -e '.[xfmr]'" in output
    assert not out.exists()
