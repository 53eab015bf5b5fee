"""`synpt generate / verify / show`, the reference-format writer and loader, and the file-backed streams."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synpt.catalog import get_task
from synpt.cli import main
from synpt.downstream.tasks import read_tsv_pairs
from synpt.errors import SynptError
from synpt.synthetic.files import Chunk, SplitWriter, keep_first, load_id_pairs, parse_id_pair, text_digest

TRAIN, VALID, NUM = 2000, 300, 2600  # three blocks, 300 lines dropped between train and valid


def _generate(out, *extra):
    argv = ["generate", "--task", "set", "--train", str(TRAIN), "--valid", str(VALID), "--num-examples", str(NUM)]
    return main([*argv, "--out", str(out), "--no-progress", *extra])


def _files(out, generator="set"):
    folder = out / "pretraining_data" / "simpler_tasks" / generator
    return (folder / "train.txt").read_bytes(), (folder / "valid.txt").read_bytes()


def test_generate_is_byte_identical_across_runs_and_workers(tmp_path):
    assert _generate(tmp_path / "a", "--seed", "5") == 0
    assert _generate(tmp_path / "b", "--seed", "5", "--workers", "2") == 0
    assert _generate(tmp_path / "c", "--seed", "6") == 0
    train, valid = _files(tmp_path / "a")
    assert (train, valid) == _files(tmp_path / "b")
    assert train != _files(tmp_path / "c")[0]
    train_lines, valid_lines = train.decode().splitlines(), valid.decode().splitlines()
    assert len(train_lines) == TRAIN and len(valid_lines) == VALID
    for line in train_lines[:50] + valid_lines[-50:]:
        inputs, targets = parse_id_pair(line)
        assert line == f"{inputs}\t{targets}"  # exactly Python's str(list), no EOS
        assert inputs[:2] == [356, 32099] and targets[-1] != 1
    # train = first TRAIN lines of the stream, valid = the last VALID of NUM
    stream = [e for _, e in zip(range(NUM), get_task("set").examples("train", seed=5), strict=False)]
    assert parse_id_pair(train_lines[0])[0] == stream[0]["inputs"][:-1].tolist()
    assert parse_id_pair(valid_lines[-1])[0] == stream[NUM - 1]["inputs"][:-1].tolist()
    assert parse_id_pair(valid_lines[0])[0] == stream[NUM - VALID]["inputs"][:-1].tolist()


def test_verify_reports_mismatches_and_malformed_lines(tmp_path, capsys):
    _generate(tmp_path, "--seed", "1")
    folder = tmp_path / "pretraining_data" / "simpler_tasks" / "set"
    assert main(["verify", "--task", "set", str(folder / "valid.txt")]) == 0
    assert f"{VALID} lines, 0 mismatches" in capsys.readouterr().out
    lines = (folder / "valid.txt").read_text().splitlines()
    inputs, targets = parse_id_pair(lines[4])
    lines[4] = f"{inputs}\t{targets[::-1] + [7]}"
    lines[9] = "[1843, 32099, 5]\t[5]"
    lines[11] = "not a line"
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(lines) + "\n")
    assert main(["verify", "--task", "set", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{VALID} lines, 3 mismatches" in out
    assert f"{bad}:5: target mismatch" in out and f"{bad}:10: malformed" in out and f"{bad}:12: malformed" in out


def test_verify_golden_files_with_cli(golden_samples_dir, capsys):
    for path in sorted(golden_samples_dir.glob("*.txt")):
        assert main(["verify", "--task", path.stem, str(path)]) == 0, path
    assert "10 lines, 0 mismatches" in capsys.readouterr().out


def test_show_marks_prefix_and_separators(capsys):
    assert main(["show", "--task", "set_1_minus_2", "-n", "3", "--seed", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all(line.startswith("<set_1_minus_2> | ") and " ‖ " in line and "  →  " in line for line in lines)
    assert main(["show", "--task", "identity", "-n", "1", "--set-order", "sorted"]) == 2  # not a copy option


def test_generate_all_tasks_small(tmp_path):
    assert (
        main(["generate", "--task", "all", "--train", "20", "--valid", "5", "--out", str(tmp_path), "--no-progress"])
        == 0
    )
    simple = sorted(p.name for p in (tmp_path / "pretraining_data" / "simpler_tasks").iterdir())
    assert len(simple) == 18 and "set_1_minus_2" in simple and "copy" in simple
    lime = sorted(p.name for p in (tmp_path / "pretraining_data" / "lime").iterdir())
    assert lime == sorted(
        [f"{m}_{s}.txt" for m in ("induct", "deduct", "abduct") for s in ("train", "valid")] + ["manifest.json"]
    )


def test_generate_rejects_bad_flags(tmp_path):
    assert (
        main(
            [
                "generate",
                "--task",
                "set",
                "--train",
                "10",
                "--valid",
                "5",
                "--num-examples",
                "12",
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert main(["generate", "--task", "nope", "--out", str(tmp_path)]) == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["generate", "--task", "set", "--train", "-5"], "--train -5: must be >= 0"),
        (["generate", "--task", "set", "--workers", "0"], "--workers 0: must be >= 1"),
        (["show", "--task", "set", "-n", "-3"], "-n -3: the number of examples to show must be >= 1"),
    ],
)
def test_negative_counts_are_one_line_errors(tmp_path, capsys, argv, message):
    assert main([*argv, *(["--out", str(tmp_path)] if argv[0] == "generate" else [])]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.txt"))


# -- writer --------------------------------------------------------------------------------------------------------
def _chunk(lines: list[bytes]) -> Chunk:
    """A chunk of complete lines, each keyed by the digest of its input (as the task formatters make them)."""
    return Chunk(
        b"".join(lines),
        np.array([len(x) for x in lines], dtype=np.int64),
        np.array([text_digest(x) for x in lines], dtype=np.uint64),
    )


def test_split_writer_dedups_by_input_keeping_first(tmp_path):
    writer = SplitWriter(tmp_path / "train.txt", tmp_path / "valid.txt", num_train=2, num_valid=2)
    writer.add(_chunk([b"[1]\t[1]\n", b"[2]\t[2]\n", b"[1]\t[9]\n"]))
    writer.add(_chunk([b"[3]\t[3]\n", b"[2]\t[8]\n", b"[4]\t[4]\n", b"[5]\t[5]\n"]))
    counts = writer.finish()
    assert (tmp_path / "train.txt").read_bytes() == b"[1]\t[1]\n[2]\t[2]\n"
    assert (tmp_path / "valid.txt").read_bytes() == b"[4]\t[4]\n[5]\t[5]\n"
    assert counts == {"generated": 7, "duplicates_removed": 2, "train": 2, "valid": 2, "dropped_between": 1}


def test_interrupted_write_leaves_no_partial_files(tmp_path, monkeypatch):
    import synpt.synthetic.task as synthetic

    calls = []

    def interrupted(*job):
        calls.append(job[-1])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(*job)

    original = synthetic._format_block
    monkeypatch.setattr(synthetic, "_format_block", interrupted)
    with pytest.raises(KeyboardInterrupt):
        get_task("identity").write_dataset(tmp_path, num_train=1500, num_valid=10, seed=0, progress=False)
    folder = tmp_path / "pretraining_data" / "simpler_tasks" / "copy"
    assert list(folder.iterdir()) == []


# -- loader --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("piece_bytes", [12, 1 << 20])
def test_loader_counts_malformed_lines_and_names_them(tmp_path, monkeypatch, piece_bytes):
    import synpt.synthetic.files as files

    monkeypatch.setattr(files, "_PIECE_BYTES", piece_bytes)  # small pieces: lines cross piece boundaries
    path = tmp_path / "x.txt"
    path.write_text("[1, 2]\t[3]\n[4]\n[5, x]\t[6]\n[7]\t[8, 9]\n")
    inputs, targets, report = load_id_pairs(path)
    assert inputs.tolists() == [[1, 2], [7]] and targets.tolists() == [[3], [8, 9]]
    assert report.lines == 4
    assert (
        report.malformed == 2 and report.bad_lines[0].startswith(f"{path}:2:") and f"{path}:3:" in report.bad_lines[1]
    )

    text_pairs = read_tsv_pairs(path)  # the text loader keeps every line with two fields, [5, x] included
    assert text_pairs.dropped == [2] and len(text_pairs.pairs) == 3
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(SynptError, match="empty"):
        load_id_pairs(tmp_path / "empty.txt")
    with pytest.raises(SynptError, match="not found"):
        load_id_pairs(tmp_path / "missing.txt")


def test_file_source_reads_and_cycles_with_seeded_epoch_shuffles(tmp_path):
    task = get_task("reverse")
    task.write_dataset(tmp_path, num_train=40, num_valid=10, seed=3, progress=False)
    folder = tmp_path / "pretraining_data" / "simpler_tasks" / "reverse"
    inputs, _, _ = load_id_pairs(folder / "train.txt")
    file_rows = inputs.tolists()
    from_files = task.with_options(source="files")
    stream = from_files.examples("train", seed=1, data_dir=tmp_path)
    epochs = [[next(stream)["inputs"][:-1].tolist() for _ in range(40)] for _ in range(2)]
    assert sorted(epochs[0]) == sorted(file_rows) == sorted(epochs[1])
    assert epochs[0] != epochs[1] and epochs[0] != file_rows
    again = from_files.examples("train", seed=1, data_dir=tmp_path, start=40)
    assert next(again)["inputs"][:-1].tolist() == epochs[1][0]
    valid = [e["inputs"][:-1].tolist() for e in task.examples("validation", data_dir=tmp_path)]
    assert valid == load_id_pairs(folder / "valid.txt")[0].tolists()  # valid.txt present -> read in file order
    with pytest.raises(SynptError, match="not found"):
        next(task.with_options(source="files").examples("train", data_dir=tmp_path / "nowhere"))
    assert np.all(next(stream)["targets"][-1:] == 1)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.integers(0, 99_999), max_size=6), st.lists(st.integers(0, 99_999), max_size=4)),
        min_size=1,
        max_size=6,
    ),
    st.integers(0, 10_000),
    st.sampled_from([b"", b"x", b",", b" ", b"[", b"]", b"\t", b"\n", b"-"]),
)
def test_vectorized_loader_equals_line_by_line_parser(rows, where, junk):
    import tempfile
    from pathlib import Path

    data = "".join(f"{a}\t{b}\n" for a, b in rows).encode()
    if junk:  # corrupt one byte position: the loader must agree with Python's line-by-line parse
        at = where % len(data)
        data = data[:at] + junk + data[at + 1 :]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.txt"
        path.write_bytes(data)
        expected = []
        for line in data.decode().split("\n")[: data.count(b"\n") + (0 if data.endswith(b"\n") else 1)]:
            with contextlib.suppress(ValueError):
                expected.append(parse_id_pair(line))
        if not expected:
            with pytest.raises(SynptError):
                load_id_pairs(path)
            return
        inputs, targets, report = load_id_pairs(path)
        assert list(zip(inputs.tolists(), targets.tolists(), strict=True)) == [tuple(p) for p in expected]


# -- the task contract ---------------------------------------------------------------------------------------------
def test_every_task_declares_the_contract():
    from synpt.catalog import task_names
    from synpt.tasks import Task

    for name in task_names():
        task = get_task(name)
        assert isinstance(task, Task) and isinstance(task.options, dict) and isinstance(task.default_sizes, dict)
        assert task.writes_dataset == (task.family not in ("downstream", "natural"))
        assert task.has_oracle == (task.family == "simple")
        assert (task.settings is None) == (task.family != "downstream")
        assert isinstance(task.prefix, tuple) and bool(task.prefix) == (task.family == "simple")
    with pytest.raises(SynptError, match="writes synthetic tasks only"):
        get_task("g2p").write_dataset("unused", num_train=1, num_valid=1, seed=0)
    with pytest.raises(SynptError, match="no oracle"):
        get_task("lime").oracle_target([1])


@settings(max_examples=60, deadline=None)
@given(
    start=st.integers(0, 40),
    count=st.integers(1, 5),
    data=st.data(),
    first_block=st.integers(0, 3),
)
def test_host_slice_and_indices_read_the_same_global_indices(start, count, data, first_block):
    from synpt.tasks import host_indices, host_slice

    index = data.draw(st.integers(0, count - 1))
    expected = [i for i in range(60) if i >= start and i % count == index]
    assert list(host_indices(start, index, count, stop=60)) == expected
    first = min(first_block * 8, start)  # a stream may begin at a block boundary at or before `start`
    assert list(host_slice(range(first, 60), start, index, count, first_index=first)) == expected


def test_epoch_order_is_the_seed_sequence_of_the_key_and_epoch():
    from synpt.tasks import EpochShuffle, epoch_order

    assert epoch_order((3,), 2, 10).tolist() == np.random.default_rng([3, 2]).permutation(10).tolist()
    shuffle = EpochShuffle(10, (3,))
    assert [shuffle.row(i) for i in range(20, 30)] == epoch_order((3,), 2, 10).tolist()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3000) | st.integers(0, 2**64 - 1), max_size=2500), max_size=6))
def test_keep_first_matches_a_python_set(chunks):
    seen, reference = set(), set()
    for chunk in chunks:
        keep = keep_first(seen, np.array(chunk, dtype=np.uint64))
        expected = []
        for digest in chunk:
            expected.append(digest not in reference)
            reference.add(digest)
        assert (keep is None) == all(expected)
        if keep is not None:
            assert keep.tolist() == expected
    assert seen == reference
