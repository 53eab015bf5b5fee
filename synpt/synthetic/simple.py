"""The 18 simple synthetic tasks of the paper (reference §2.2-§2.8): their samplers, targets and oracles.

Each task is a sampler (candidate arguments for a whole block, as ragged arrays; a C kernel of
`synpt/synthetic/native/`, wrapped by `synpt.synthetic.native`) and a target function (whole-block numpy, or a C
kernel for sort and the set operations), plus a pure-Python *oracle* written the reference's way (`fn(sample)`, one
example at a time). The oracle is the definition; `synpt verify` and the property tests check the kernels and the
reference's files against it.

Register your own task with `simple_task` (see docs/synthetic_tasks.md):

    @simple_task("sorted_set", prefix=[1843, 356], sampler="set")
    def sorted_set(sample):
        return sorted(set(sample))
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from synpt.errors import SynptError
from synpt.synthetic import native
from synpt.synthetic.sampling import (
    POOL_HIGH,
    POOL_LOW,
    Ragged,
    concat,
    make_pool,
    stable_task_id,
)
from synpt.synthetic.task import SyntheticTask
from synpt.tasks.registry import register_task

ARGS_DIVIDER = 32099  # <extra_id_0>: after the task-name prefix
WORD_DIVIDER = 32098  # <extra_id_1>: between words (longest_word)
BINARY_DIVIDER = 32097  # <extra_id_2>: between the two arguments
EMPTY_TARGET = 32096  # <extra_id_3>: stands in for an empty target
YES_ID, NO_ID = 4273, 150
MAX_LENGTH = 4000
SET_ORDERS = ("cpython", "sorted", "first_appearance")

_NUMBER_LISTS: list[list[int]] = json.loads(resources.files("synpt.synthetic").joinpath("number_ids.json").read_text())[
    "ids"
]
_NUMBER_IDS = Ragged.from_lists(_NUMBER_LISTS)


def number_ids(n: int) -> list[int]:
    """T5 ids of str(n), leading bare-piece id 3 dropped (reference §2.3)."""
    return list(_NUMBER_LISTS[n])


@dataclass(frozen=True)
class Context:
    """Resolved options a sampler and a target function see."""

    lo: int
    hi: int
    pool: np.ndarray
    set_order: str = "cpython"
    balanced: bool = False


Sample = tuple[Ragged, "Ragged | None"]
Sampler = Callable[[np.random.Generator, int, Context], Sample]
VectorTarget = Callable[[Ragged, "Ragged | None", Context], Ragged]
Oracle = Callable[..., list]


def accepted(rng: np.random.Generator, count: int, ctx: Context, sampler: Sampler) -> Sample:
    """`count` samples whose argument part is within [lo, hi] (whole-sample rejection, reference §2.4).

    The first round draws exactly `count` candidates (most samplers never reject, so that is the only round); later
    rounds draw enough for the observed acceptance rate. Accepted candidates are kept in draw order, which is the
    same distribution as resampling one example at a time.
    """
    kept1, kept2, total, drawn = [], [], 0, 0
    while not kept1 or total < count:
        want = count - total
        size = want if not drawn else int(want / max(total / drawn, 0.02)) + 16
        arg1, arg2 = sampler(rng, size, ctx)
        length = arg1.lengths + (0 if arg2 is None else arg2.lengths + 1)
        ok = (length >= ctx.lo) & (length <= ctx.hi)
        if not drawn and ok.all():
            return arg1, arg2
        rows = np.flatnonzero(ok)[:want]
        kept1.append(arg1.take(rows))
        kept2.append(None if arg2 is None else arg2.take(rows))
        total += len(rows)
        drawn += size
        if drawn >= 200 * max(count, 1) and total == 0:
            raise SynptError(f"length_range ({ctx.lo}, {ctx.hi}) is too narrow: no sample fits; widen it")
    return Ragged.stack(kept1), (None if kept2[0] is None else Ragged.stack(kept2))


# ------------------------------------------------------------------------------------------------------------------
# Samplers (reference §2.6; the bounds are written for a general length_range (lo, hi), e.g. U{8..218} = U{lo-2..hi-2})
# ------------------------------------------------------------------------------------------------------------------


sample_uniform = native.sampler("uniform")  # copy, reverse, duplicate, first/last token, length


sample_runs = native.sampler("runs")  # deduplicate: runs of random tokens
sample_shuffled_runs = native.sampler("shuffled_runs")  # set: the same, shuffled
sample_words = native.sampler("words")  # longest_word: words joined by the word divider
sample_count = native.sampler("count")  # count: copies of a query token among fillers; arg2 = [query]
sample_replace = native.sampler("replace")  # replace: tokens; arg2 = [key from the tokens, fresh value]
sample_sort = native.sampler("sort")  # sort: shuffled runs over an order; arg2 = the order
sample_two_sets = native.sampler("two_sets")  # union / intersect / differences: two lists over a local pool


# delete / search: one kernel draws the branch (query present with probability 0.75 / 0.5, else absent) and rejects
# on the length range per example, redrawing the branch too (the reference's skew, quirk 5), or with `balanced`
# only within the branch.
sample_delete = native.sampler("delete")
sample_search = native.sampler("search")


# ------------------------------------------------------------------------------------------------------------------
# Vectorized targets
# ------------------------------------------------------------------------------------------------------------------


# Whole-block numpy, but for the set operations (C: they need the CPython set order) and sort. The targets consume no
# random draws, so how they compute changes no byte; the oracles below define them.


def _numbers(n: np.ndarray) -> Ragged:
    """Row i = the T5 ids of str(n[i])."""
    if len(n) and n.max() >= len(_NUMBER_IDS):
        raise ValueError(f"no T5 ids for the number {int(n.max())}")
    return _NUMBER_IDS.take(n)


def _per_value(a: Ragged, per_row: np.ndarray) -> np.ndarray:
    """per_row[i] repeated for every value of row i."""
    return np.repeat(per_row, a.lengths)


def _column(b: Ragged, j: int, task: str) -> np.ndarray:
    """Token j of every row of the second argument (the oracle would raise an IndexError on a shorter row)."""
    short = np.flatnonzero(b.lengths <= j)
    if len(short):
        row = int(short[0])
        raise ValueError(f"{task}: row {row} of the second argument has {b.lengths[row]} tokens, needs {j + 1}")
    return b.values[b.offsets + j]


def target_copy(a, b, ctx):
    return a


def target_reverse(a, b, ctx):
    ends = _per_value(a, a.offsets + a.lengths - 1)
    return Ragged(a.values[ends - a.positions], a.lengths)


def target_duplicate(a, b, ctx):
    return Ragged(np.repeat(a.values, 2), 2 * a.lengths)


def target_first(a, b, ctx):
    full = a.lengths > 0
    return Ragged(a.values[a.offsets[full]], full.astype(np.int64))


def target_last(a, b, ctx):
    full = a.lengths > 0
    return Ragged(a.values[(a.offsets + a.lengths - 1)[full]], full.astype(np.int64))


def target_length(a, b, ctx):
    return _numbers(a.lengths)


def target_deduplicate(a, b, ctx):
    starts = np.ones(len(a.values), dtype=bool)  # a value that starts a run of equal neighbours
    starts[1:] = a.values[1:] != a.values[:-1]
    starts[a.offsets[a.lengths > 0]] = True
    return a.mask(starts)


def target_count(a, b, ctx):
    hits = a.values == _per_value(a, _column(b, 0, "count"))
    return _numbers(np.bincount(a.segment_ids[hits], minlength=len(a)))


def target_replace(a, b, ctx):
    key, value = _column(b, 0, "replace"), _column(b, 1, "replace")
    return Ragged(np.where(a.values == _per_value(a, key), _per_value(a, value), a.values), a.lengths)


def _row_keys(a: Ragged) -> np.ndarray:
    """One int64 per value, (its row, the value): equal exactly for equal values of one row, ordered by row."""
    return (a.segment_ids << 32) | (a.values.astype(np.int64) & 0xFFFFFFFF)


def target_set(a, b, ctx):
    keys = _row_keys(a)
    by_key = np.argsort(keys, kind="stable")  # rows are runs of ascending keys: a quick stable sort
    keys = keys[by_key]
    keep = np.zeros(len(keys), dtype=bool)
    keep[by_key[np.flatnonzero(keys[1:] != keys[:-1]) + 1]] = True  # the first of the equal keys, after a stable sort
    keep[by_key[:1]] = True
    return a.mask(keep)


def target_longest_word(a, b, ctx):
    divider = a.values == WORD_DIVIDER
    # Number all rows' words in order (row r's first word is r + the dividers of the rows before it; a row has one
    # word more than dividers): a value's word is the dividers up to it plus its row.
    word = np.cumsum(divider) + a.segment_ids
    words_per_row = np.bincount(a.segment_ids[divider], minlength=len(a)) + 1
    first_word = np.cumsum(words_per_row) - words_per_row
    sizes = np.bincount(word[~divider], minlength=int(words_per_row.sum()))
    if not len(a):
        return a
    longest = np.repeat(np.maximum.reduceat(sizes, first_word), words_per_row)
    numbers = np.arange(len(sizes))
    chosen = np.minimum.reduceat(np.where(sizes == longest, numbers, len(sizes)), first_word)  # the first longest
    return a.mask(~divider & (word == chosen[a.segment_ids]))


target_sort = native.target("sort")  # C: the whole-block numpy sort costs several times the C kernel


def _first_indices(a: Ragged, b: Ragged) -> np.ndarray:
    """Per row, the start of the first contiguous occurrence of b's row in a's row, or -1 (also for an empty one):
    bytes.find over the int32 bytes, a hit counting only at a 4-byte boundary."""
    seqs = np.ascontiguousarray(a.values, dtype=np.int32).tobytes()
    queries = np.ascontiguousarray(b.values, dtype=np.int32).tobytes()
    found, rows = [], 4 * np.stack([a.offsets, a.offsets + a.lengths, b.offsets, b.lengths])
    for start, end, q_start, q in zip(*rows.tolist(), strict=True):
        query = queries[q_start : q_start + q]
        i = seqs.find(query, start, end) if q else -1
        while i >= 0 and (i - start) % 4:
            i = seqs.find(query, i + 1, end)
        found.append(i if i < 0 else (i - start) // 4)
    return np.array(found, dtype=np.int64)


def target_delete(a, b, ctx):
    at = _per_value(a, _first_indices(a, b))
    start = a.positions - at
    return a.mask((at < 0) | (start < 0) | (start >= _per_value(a, b.lengths)))


def target_search(a, b, ctx):
    return Ragged(np.where(_first_indices(a, b) >= 0, YES_ID, NO_ID).astype(np.int32), np.ones(len(a), np.int64))


_SET_OPS = {
    "union": lambda x, y: x | y,
    "intersect": lambda x, y: x & y,
    "set_1_minus_2": lambda x, y: x - y,
    "set_2_minus_1": lambda x, y: y - x,
}


# ------------------------------------------------------------------------------------------------------------------
# Oracles: the reference's per-example target functions, in plain Python
# ------------------------------------------------------------------------------------------------------------------


def _first_index(seq: list[int], query: list[int]) -> int:
    n = len(query)
    return next((i for i in range(len(seq) - n + 1) if seq[i : i + n] == query), -1) if n else -1


def oracle_deduplicate(s):
    out = []
    for t in s:
        if not out or out[-1] != t:
            out.append(t)
    return out


def oracle_set(s):
    seen, out = set(), []
    for t in s:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def split_words(s: list[int]) -> list[list[int]]:
    """The words of a longest_word row: split at WORD_DIVIDER (empty words kept; an empty row is one empty word)."""
    words, word = [], []
    for t in s + [WORD_DIVIDER]:
        if t == WORD_DIVIDER:
            words.append(word)
            word = []
        else:
            word.append(t)
    return words


def oracle_longest_word(s):
    words = split_words(s)
    best = words[0]
    for w in words[1:]:
        if len(w) > len(best):
            best = w
    return best


def oracle_sort(sample):
    seq, order = sample
    rank = {t: i for i, t in enumerate(order)}  # a duplicated token keeps its last index
    return sorted(seq, key=rank.__getitem__)


def oracle_delete(sample):
    seq, query = sample
    i = _first_index(seq, query)
    return seq if i < 0 else seq[:i] + seq[i + len(query) :]


def _oracle_set_op(op: str) -> Callable:
    def oracle(sample, set_order="cpython"):
        x, y = sample
        result = list(_SET_OPS[op](set(x), set(y)))
        if set_order == "sorted":
            return sorted(result)
        if set_order == "first_appearance":
            members = set(result)
            return [t for t in oracle_set(x + y) if t in members]
        return result

    return oracle


ORACLES: dict[str, Callable] = {
    "copy": lambda s: list(s),
    "reverse": lambda s: s[::-1],
    "duplicate": lambda s: [t for t in s for _ in range(2)],
    "first_char": lambda s: [s[0]],
    "last_char": lambda s: [s[-1]],
    "length": lambda s: number_ids(len(s)),
    "deduplicate": oracle_deduplicate,
    "set": oracle_set,
    "longest_word": oracle_longest_word,
    "count": lambda sample: number_ids(sample[0].count(sample[1][0])),
    "replace": lambda sample: [sample[1][1] if t == sample[1][0] else t for t in sample[0]],
    "sort": oracle_sort,
    "delete": oracle_delete,
    "search": lambda sample: [YES_ID if _first_index(sample[0], sample[1]) >= 0 else NO_ID],
    **{op: _oracle_set_op(op) for op in _SET_OPS},
}


# ------------------------------------------------------------------------------------------------------------------
# The task class
# ------------------------------------------------------------------------------------------------------------------

SAMPLERS: dict[str, Sampler] = {
    "copy": sample_uniform,
    "deduplicate": sample_runs,
    "set": sample_shuffled_runs,
    "longest_word": sample_words,
    "count": sample_count,
    "replace": sample_replace,
    "sort": sample_sort,
    "delete": sample_delete,
    "search": sample_search,
    "union": sample_two_sets,
}
BINARY_SAMPLERS = {"count", "replace", "sort", "delete", "search", "union"}


_FULL_POOL = make_pool(None)


def parse_length_range(value) -> tuple[int, int]:
    """(lo, hi) from a pair or a "lo,hi" string."""
    try:
        lo, hi = (int(x) for x in (value.split(",") if isinstance(value, str) else value))
    except (TypeError, ValueError):
        raise SynptError(f"length_range must be two integers 'lo,hi' (e.g. 10,220), got {value!r}") from None
    if not 1 <= lo <= hi or not 8 <= hi <= MAX_LENGTH:
        raise SynptError(f"length_range ({lo}, {hi}) must satisfy 1 <= lo <= hi and 8 <= hi <= {MAX_LENGTH}")
    return lo, hi


class SimpleTask(SyntheticTask):
    """One simple task: `prefix ids + [32099] + args` -> target, args within `length_range` (reference §2.4)."""

    family = "simple"
    common_options = {"source": "stream", "length_range": (10, 220), "pool_size": None}

    def __init__(
        self,
        name: str,
        generator_name: str,
        prefix: tuple[int, ...],
        sampler: Sampler,
        binary: bool,
        target: VectorTarget,
        oracle: Callable,
        extra_options: dict | None = None,
    ):
        super().__init__(name, extra_options)
        self.generator_name = generator_name
        self.prefix = tuple(int(p) for p in prefix)
        self.binary = binary
        self._sampler, self._target, self._oracle = sampler, target, oracle
        self._pools: dict[tuple[int, int], np.ndarray] = {}  # (seed, pool_size) -> pool; shared by copies

    @property
    def parts(self) -> tuple[str, ...]:
        return (self.generator_name,)

    def _part_files(self, data_root: Path, part: str) -> tuple[Path, Path]:
        folder = Path(data_root) / "pretraining_data" / "simpler_tasks" / self.generator_name
        return folder / "train.txt", folder / "valid.txt"

    def _check_option(self, key, value):
        if key == "length_range":
            return parse_length_range(value)
        if key == "set_order" and value not in SET_ORDERS:
            raise SynptError(f"task {self.name!r}: set_order must be one of {', '.join(SET_ORDERS)}, got {value!r}")
        if key == "balanced" and not isinstance(value, bool):
            raise SynptError(f"task {self.name!r}: balanced must be True or False, got {value!r}")
        if key == "pool_size" and value is not None:
            full = POOL_HIGH - POOL_LOW + 1
            if not isinstance(value, int) or not 1 <= value <= full:
                raise SynptError(f"pool_size must be an integer between 1 and {full}, got {value!r}")
        return super()._check_option(key, value)

    def context(self, seed: int = 0) -> Context:
        """The options resolved for sampling; a `pool_size` subset is drawn once per seed."""
        size = self.options["pool_size"]
        if size is None:
            pool = _FULL_POOL
        else:
            key = (seed, int(size))
            if key not in self._pools:
                rng = np.random.default_rng(np.random.SeedSequence([seed, stable_task_id(f"{self.name}/pool")]))
                self._pools[key] = make_pool(int(size), rng)
            pool = self._pools[key]
        lo, hi = self.options["length_range"]
        return Context(
            lo, hi, pool, self.options.get("set_order", "cpython"), bool(self.options.get("balanced", False))
        )

    def _generate(self, rng, count, part, seed):
        ctx = self.context(seed)
        arg1, arg2 = accepted(rng, count, ctx, self._sampler)
        if self.binary and arg2 is None:
            raise SynptError(f"task {self.name!r}: a binary task needs a sampler returning two arguments")
        targets = self._target(arg1, arg2, ctx)
        return self.assemble_inputs(arg1, arg2), _fill_empty(targets)

    def assemble_inputs(self, arg1: Ragged, arg2: Ragged | None) -> Ragged:
        """prefix + [32099] + arg1 (+ [32097] + arg2)."""
        return native.assemble(np.array([*self.prefix, ARGS_DIVIDER], dtype=np.int32), arg1, arg2, BINARY_DIVIDER)

    def split_input(self, ids: list[int]):
        """The sample (list, or (arg1, arg2)) of a reference input line; ValueError naming what is wrong."""
        head = [*self.prefix, ARGS_DIVIDER]
        if ids[: len(head)] != head:
            raise ValueError(f"input does not start with the {self.generator_name} prefix {head}")
        args = ids[len(head) :]
        if not self.binary:
            return args
        if BINARY_DIVIDER not in args:
            raise ValueError(f"binary task input has no argument divider {BINARY_DIVIDER}")
        cut = args.index(BINARY_DIVIDER)
        return args[:cut], args[cut + 1 :]

    def oracle_target(self, ids: list[int]) -> list[int]:
        """The reference's target for an input line (prefix included, no EOS), computed one example at a time."""
        sample = self.split_input(ids)
        if self.binary and "set_order" in self.options:
            target = self._oracle(sample, self.options["set_order"])
        else:
            target = self._oracle(sample)
        return list(target) or [EMPTY_TARGET]


def _fill_empty(targets: Ragged) -> Ragged:
    """Write [32096] for every empty target."""
    empty = targets.lengths == 0
    if not empty.any():
        return targets
    return concat(targets, Ragged(np.full(int(empty.sum()), EMPTY_TARGET, dtype=np.int32), empty.astype(np.int64)))


def simple_task(
    name: str,
    *,
    prefix: list[int],
    sampler: str | Sampler = "copy",
    vectorized: bool = False,
    oracle: Callable | None = None,
    aliases: tuple[str, ...] = (),
    generator_name: str | None = None,
    binary: bool | None = None,
) -> Callable:
    """Decorator registering a user task built from a target function.

    `sampler` is a built-in sampler name (copy, deduplicate, set, longest_word, count, replace, sort, delete,
    search, union) or a callable `(rng, count, ctx) -> (arg1, arg2 or None)` of ragged arrays (then say
    `binary=True` when it returns two arguments; built-in samplers know their arity). The decorated
    function is either a per-example `fn(sample) -> list[int]` (sample = list, or (arg1, arg2) for binary samplers;
    it is also the oracle) or, with `vectorized=True`, `fn(arg1, arg2, ctx) -> Ragged` (pass `oracle=` for
    `synpt verify`). The function is returned unchanged; the task is available through `get_task(name)`.
    """
    if isinstance(sampler, str):
        if sampler not in SAMPLERS:
            raise SynptError(f"unknown sampler {sampler!r}; valid: {', '.join(SAMPLERS)}")
        is_binary, sampler_fn = sampler in BINARY_SAMPLERS, SAMPLERS[sampler]
    else:
        is_binary, sampler_fn = bool(binary), sampler

    def decorate(fn: Callable) -> Callable:
        if vectorized:
            target, the_oracle = fn, oracle
        else:

            def target(a, b, ctx):
                samples = a.tolists() if b is None else list(zip(a.tolists(), b.tolists(), strict=True))
                return Ragged.from_lists([list(fn(s)) for s in samples])

            the_oracle = fn
        task = SimpleTask(name, generator_name or name, tuple(prefix), sampler_fn, is_binary, target, the_oracle)
        register_task(task, aliases=aliases)
        return fn

    return decorate


# ------------------------------------------------------------------------------------------------------------------
# The 18 built-in tasks: (paper name, generator name, prefix ids, sampler, target, oracle key, extra options)
# ------------------------------------------------------------------------------------------------------------------

_SET_ORDER = {"set_order": "cpython"}
_BUILTINS = [
    ("identity", "copy", (2405,), "copy", target_copy, None),
    ("set", "set", (356,), "set", target_set, None),
    ("delete", "delete", (9268,), "delete", target_delete, {"balanced": False}),
    ("sort", "sort", (1843,), "sort", target_sort, None),
    ("union", "union", (7021,), "union", native.target("union"), _SET_ORDER),
    ("replace", "replace", (3601,), "replace", target_replace, None),
    ("duplicate", "duplicate", (19197,), "copy", target_duplicate, None),
    ("intersect", "intersect", (27806,), "union", native.target("intersect"), _SET_ORDER),
    ("reverse", "reverse", (7211,), "copy", target_reverse, None),
    ("deduplicate", "deduplicate", (20, 26, 413, 26221), "deduplicate", target_deduplicate, None),
    ("search", "search", (960,), "search", target_search, {"balanced": False}),
    ("longest_word", "longest_word", (14783, 834, 6051), "longest_word", target_longest_word, None),
    ("length", "length", (2475,), "copy", target_length, None),
    ("count", "count", (3476,), "count", target_count, None),
    ("first_token", "first_char", (166, 834, 4059), "copy", target_first, None),
    ("last_token", "last_char", (336, 834, 4059), "copy", target_last, None),
    (
        "set1_minus_set2",
        "set_1_minus_2",
        (356, 834, 536, 834, 14078, 834, 357),
        "union",
        native.target("set_1_minus_2"),
        _SET_ORDER,
    ),  # noqa: E501
    (
        "set2_minus_set1",
        "set_2_minus_1",
        (356, 834, 357, 834, 14078, 834, 536),
        "union",
        native.target("set_2_minus_1"),
        _SET_ORDER,
    ),  # noqa: E501
]

BUILTIN_TASKS = tuple(entry[0] for entry in _BUILTINS)
"""The paper's 18 simple tasks (paper names), in the order of the reference pretrain.sh task ids."""

for _name, _generator, _prefix, _sampler, _target, _extra in _BUILTINS:
    register_task(
        SimpleTask(
            _name,
            _generator,
            _prefix,
            SAMPLERS[_sampler],
            _sampler in BINARY_SAMPLERS,
            _target,
            ORACLES[_generator],
            _extra,
        ),
        aliases=(_generator,) if _generator != _name else (),
    )
