"""The shared C kernels through `synpt.synthetic.native`: line formatting, dedup digests, input assembly, checks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synpt.synthetic import native
from synpt.synthetic.sampling import Ragged
from synpt.synthetic.simple import Context

ids = st.integers(min_value=-(2**31), max_value=2**31 - 1)
small_ids = st.integers(min_value=0, max_value=200_000)
rows = st.lists(st.one_of(small_ids, ids), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(rows, rows), min_size=1, max_size=8))
def test_format_pairs_writes_python_list_literals(pairs):
    inputs = Ragged.from_lists([a for a, _ in pairs])
    targets = Ragged.from_lists([b for _, b in pairs])
    text, lengths, digests = native.format_pairs(inputs, targets)
    lines = [f"{a}\t{b}\n".encode() for a, b in pairs]
    assert text == b"".join(lines)
    buffer = bytearray(b"stale text that must not leak into the result" * 50)
    again, _, _ = native.format_pairs(inputs, targets, buffer)  # into a reused buffer: only the new text
    assert again == text
    assert lengths.tolist() == [len(x) for x in lines]
    assert digests.tolist() == native.digests(inputs).tolist()


def test_digests_separate_inputs_that_differ_anywhere():
    base = list(range(2, 200))
    variants = [base, base[:-1], base + [0], [base[1], base[0], *base[2:]], [*base[:100], 7, *base[101:]], [0] + base]
    digests = native.digests(Ragged.from_lists(variants)).tolist()
    assert len(set(digests)) == len(variants)
    again = native.digests(Ragged.from_lists([list(v) for v in variants])).tolist()
    assert again == digests  # a pure function of the ids


def test_format_pairs_rejects_empty_rows_and_mismatched_counts():
    with pytest.raises(ValueError, match="non-empty"):
        native.format_pairs(Ragged.from_lists([[1], []]), Ragged.from_lists([[1], [2]]))
    with pytest.raises(ValueError, match="as many rows"):
        native.format_pairs(Ragged.from_lists([[1]]), Ragged.from_lists([[1], [2]]))


def test_kernels_reject_inconsistent_lengths():
    values = np.arange(4, dtype=np.int32)
    with pytest.raises(ValueError, match="sum to 5"):
        native.format_pairs(Ragged(values, np.array([5])), Ragged(values, np.array([4])))
    with pytest.raises(ValueError, match="negative"):
        native.digests(Ragged(values, np.array([5, -1])))


def test_assemble_puts_head_arguments_and_divider():
    a, b = Ragged.from_lists([[5, 6], [7]]), Ragged.from_lists([[], [8, 9]])
    head = np.array([2405, 32099], dtype=np.int32)
    assert native.assemble(head, a, None, 32097).tolists() == [[2405, 32099, 5, 6], [2405, 32099, 7]]
    assert native.assemble(head, a, b, 32097).tolists() == [[2405, 32099, 5, 6, 32097], [2405, 32099, 7, 32097, 8, 9]]


def test_sampler_arguments_are_checked():
    pool = np.arange(2, 32000, dtype=np.int32)
    uniform = native.sampler("uniform")
    with pytest.raises(ValueError, match="length range"):
        uniform(np.random.default_rng(0), 4, Context(30, 20, pool))
    arg1, arg2 = uniform(np.random.default_rng(0), 4, Context(10, 20, pool))
    assert arg2 is None and ((arg1.lengths >= 10) & (arg1.lengths <= 20)).all()
    assert np.isin(arg1.values, pool).all()


@pytest.mark.parametrize("name", ["union", "lime", "sort"])
def test_worker_threads_write_the_same_bytes(tmp_path, name):
    """Kernels run without the GIL in worker threads; blocks still land in order, byte-identical to one thread."""
    from synpt.catalog import get_task

    task = get_task(name)
    files = {}
    for workers in (1, 3):
        out = tmp_path / str(workers)
        task.write_dataset(
            out, num_train=9000, num_valid=100, num_examples=9300, seed=4, workers=workers, progress=False
        )
        files[workers] = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*.txt"))}
    assert files[1] == files[3] and len(files[1]) == len(task.parts) * 2


def test_kernel_outputs_are_writable_arrays():
    """Callers may edit blocks in place."""
    out = native.assemble(np.array([7, 8], dtype=np.int32), Ragged.from_lists([[1, 2, 3], [4]]), None, 9)
    assert out.tolists() == [[7, 8, 1, 2, 3], [7, 8, 4]]
    out.values[0] = 5
    assert out.values[0] == 5 and out.lengths.tolist() == [5, 3]
