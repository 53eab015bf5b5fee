"""The "nonsense summarization" corpus of Krishna et al. (2021), reference §2.10.

Why this corpus: its documents are random strings of made-up words, so whatever a model learns from summarizing
them is the *skill* (copying, selecting, reordering, classifying keyword-marked content), not knowledge.

A document has 10 + U{-3..3} sentences (at least 1), each of 10 + U{-5..5} words (at least 1) drawn with
replacement from 5,000 nonsense words (the first 5,000 three-letter strings in base-26 little-endian order:
`aaa`, `baa`, ..., `zaa`, `aba`, ...) followed by ` .`. Three distinct transforms of the 16 below are drawn; all
three first *modify* the document (plant keywords, quotes, bullets, numbers), then each *summarizes* the final
document, and the three summaries are concatenated in draw order. Keywords are made unique per transform:
`__d3__keyword_2__`, `__d14__57__`, ... (d-numbers as in the authors' code). Keywords are only planted on
*free* positions: not the final `.` and not a word that already is a keyword (contains `_`).

This is a re-implementation from the published description and code, seeded (the original sets no seed). One
deliberate difference: a transform picks its sentences only among those with enough free positions (the original
picks any sentence and crashes when one has none); documents where a transform finds too few such sentences are
redrawn, which in practice never happens.

Text line = `article<TAB>summary` with article = sentences joined by spaces and summary = summary sentences joined by
spaces (the layout inferred in §2.10).
"""

from __future__ import annotations

import numpy as np

NUM_WORDS = 5000
MEAN_SENTENCES, SENTENCES_TOLERANCE = 10, 3
MEAN_SENTENCE_LENGTH, SENTENCE_LENGTH_TOLERANCE = 10, 5
TRANSFORMS_PER_DOCUMENT = 3
END = "."

Document = list[list[str]]
"""A document: one list of words per sentence, each ending with '.' (transforms edit it in place)."""


def nonsense_words(count: int = NUM_WORDS) -> list[str]:
    """The first `count` strings of the base-26, little-endian, fixed-width letter code (3 letters for 5,000)."""
    width = max(1, int(np.ceil(np.log(count) / np.log(26))))
    return ["".join(chr(97 + (i // 26**j) % 26) for j in range(width)) for i in range(count)]


WORDS = np.array(nonsense_words(), dtype=object)


def parse_document(text: str | list[str]) -> Document:
    """A document from sentences (a list of strings, or one string of sentences ending with ' .')."""
    if isinstance(text, str):
        words = text.split()
        sentences, current = [], []
        for word in words:
            current.append(word)
            if word == END:
                sentences.append(current)
                current = []
        if current:
            sentences.append(current)
        return sentences
    return [sentence.split() for sentence in text]


def render(sentences: list[list[str]] | list[str]) -> str:
    """Sentences joined by spaces (each sentence a word list or a string)."""
    return " ".join(s if isinstance(s, str) else " ".join(s) for s in sentences)


def random_document(rng: np.random.Generator) -> Document:
    """A fresh nonsense document (before any transform)."""
    num_sentences = max(1, MEAN_SENTENCES + int(rng.integers(-SENTENCES_TOLERANCE, SENTENCES_TOLERANCE + 1)))
    lengths = MEAN_SENTENCE_LENGTH + rng.integers(
        -SENTENCE_LENGTH_TOLERANCE, SENTENCE_LENGTH_TOLERANCE + 1, size=num_sentences
    )
    lengths = np.maximum(lengths, 1)
    words = WORDS[rng.integers(0, NUM_WORDS, size=int(lengths.sum()))].tolist()
    out, start = [], 0
    for length in lengths.tolist():
        out.append([*words[start : start + length], END])
        start += length
    return out


class NotApplicable(Exception):
    """A transform found too few suitable sentences; the document is redrawn."""


def free_positions(words: list[str], *, before_end: int = 1) -> list[int]:
    """Positions where a keyword may be planted: not among the last `before_end` words, not already a keyword."""
    return [i for i, w in enumerate(words[: len(words) - before_end]) if "_" not in w]


class Transform:
    """One keyword-driven subtask: `modify` plants its markers, `summarize` reads them back from the document.

    `summarize` sees the document after *all* transforms modified it, so the copied sentences may carry other
    transforms' keywords, as in the original.
    """

    tid: str = ""
    names: tuple[str, ...] = ()
    lines_needed: int | tuple[int, int] = 1  # a count, or an inclusive range drawn per document
    min_free: int = 1  # free positions a chosen sentence must have
    free_before_end: int = 1

    def __init__(self) -> None:
        self.keywords = [self.keyword(name) for name in self.names]
        self.keyword_set = frozenset(self.keywords)

    def keyword(self, name: str) -> str:
        return f"__{self.tid}__{name}__"

    # -- helpers ---------------------------------------------------------------------------------------------------
    def choose_lines(self, rng: np.random.Generator, doc: Document, count: int) -> list[int]:
        """`count` distinct sentences (ascending) with at least `min_free` free positions."""
        eligible = [
            i for i, s in enumerate(doc) if len(free_positions(s, before_end=self.free_before_end)) >= self.min_free
        ]
        if len(eligible) < count:
            raise NotApplicable(self.tid)
        return sorted(rng.choice(eligible, size=count, replace=False).tolist())

    def found(self, doc: Document) -> list[tuple[int, list[str]]]:
        """(sentence index, this transform's keywords in it in word order) for every sentence that has any."""
        hits = []
        for i, sentence in enumerate(doc):
            words = [w for w in sentence if w in self.keyword_set]
            if words:
                hits.append((i, words))
        return hits

    def plant(self, rng: np.random.Generator, doc: Document, keywords: list[str]) -> None:
        """Put keywords[k] on a random free position of its own randomly chosen sentence."""
        for line, keyword in zip(self.choose_lines(rng, doc, len(keywords)), keywords, strict=True):
            positions = free_positions(doc[line], before_end=self.free_before_end)
            doc[line][positions[int(rng.integers(len(positions)))]] = keyword

    def draw_keywords(self, rng: np.random.Generator, count: int, *, distinct: bool = False) -> list[str]:
        return [self.keywords[k] for k in rng.choice(len(self.keywords), size=count, replace=not distinct)]

    def num_lines(self, rng: np.random.Generator) -> int:
        if isinstance(self.lines_needed, tuple):
            low, high = self.lines_needed
            return int(rng.integers(low, high + 1))
        return self.lines_needed

    def single(self, doc: Document) -> tuple[int, list[str]]:
        hits = self.found(doc)
        if len(hits) != 1:
            raise ValueError(f"{type(self).__name__}: expected one sentence with its keyword, found {len(hits)}")
        return hits[0]

    # -- the subtask -----------------------------------------------------------------------------------------------
    def modify(self, rng: np.random.Generator, doc: Document) -> None:
        """Default: plant `num_lines` keywords (with replacement) on as many distinct sentences."""
        self.plant(rng, doc, self.draw_keywords(rng, self.num_lines(rng)))

    def summarize(self, rng: np.random.Generator, doc: Document) -> list[str]:
        raise NotImplementedError


def _keyword_names(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(count))


class CopyKeywordOneSentence(Transform):
    """Copy the one sentence that contains a keyword."""

    tid, names = "d3", _keyword_names("keyword_", 10)

    def summarize(self, rng, doc):
        line, _ = self.single(doc)
        return [render([doc[line]])]


class CopyKeywordMultipleSentences(Transform):
    """Copy the three keyword sentences in document order."""

    tid, names, lines_needed = "d4", _keyword_names("keyword_", 10), 3

    def summarize(self, rng, doc):
        return [render([doc[line]]) for line, _ in self.found(doc)]


class CopyKeywordMultipleSentencesShuffled(CopyKeywordMultipleSentences):
    """Copy the three keyword sentences in random order."""

    tid = "d5"

    def summarize(self, rng, doc):
        lines = super().summarize(rng, doc)
        return [lines[i] for i in rng.permutation(len(lines))]


class CopyKeywordMultipleSentencesSorted(CopyKeywordMultipleSentences):
    """Three distinct keywords; copy their sentences ordered by keyword (keyword_0 first)."""

    tid = "d6"

    def modify(self, rng, doc):
        self.plant(rng, doc, self.draw_keywords(rng, 3, distinct=True))

    def summarize(self, rng, doc):
        hits = sorted(self.found(doc), key=lambda hit: hit[1][0])
        return [render([doc[line]]) for line, _ in hits]


class CopyQuoted(Transform):
    """Copy the words between a begin- and an end-quote marker (adding ' .' if they do not end with one)."""

    tid, names, min_free = "d7", ("begin_quote", "end_quote"), 0

    def modify(self, rng, doc):
        (line,) = self.choose_lines(rng, doc, 1)
        words = doc[line]
        first = 0 if 0 in free_positions(words) else 1
        begin = int(rng.integers(first, len(words)))
        end = int(rng.integers(begin + 1, len(words) + 1))
        doc[line] = [*words[:begin], self.keywords[0], *words[begin:end], self.keywords[1], *words[end:]]

    def summarize(self, rng, doc):
        line, _ = self.single(doc)
        words = doc[line]
        inside = words[words.index(self.keywords[0]) + 1 : words.index(self.keywords[1])]
        if inside[-1] != END:
            inside = [*inside, END]
        return [render([inside])]


class CopyBulleted(Transform):
    """Copy the sentence that starts with a bullet marker (without the marker)."""

    tid, names, min_free = "d8", ("bullet",), 0

    def modify(self, rng, doc):
        (line,) = self.choose_lines(rng, doc, 1)
        doc[line] = [self.keywords[0], *doc[line]]

    def summarize(self, rng, doc):
        line, _ = self.single(doc)
        return [render([doc[line][1:]])]


class ClassifyKeyword(Transform):
    """Say whether the planted keyword is one of the five positive (0-4) or five negative (5-9) ones."""

    tid, names = "d10", _keyword_names("keyword_", 10)

    def summarize(self, rng, doc):
        _, (keyword, *_) = self.single(doc)
        polarity = "positive" if self.keywords.index(keyword) < 5 else "negative"
        return [f"the keyword was {polarity} ."]


class ReplaceClassKeyword(Transform):
    """Copy the keyword sentence with the keyword replaced by its class name (3 classes of 3 keywords)."""

    tid = "d11"
    names = tuple(f"class_{c}_kw_{k}" for c in range(3) for k in range(3))

    def class_name(self, keyword: str) -> str:
        return self.keyword(f"class_{self.keywords.index(keyword) // 3}")

    def summarize(self, rng, doc):
        line, (keyword, *_) = self.single(doc)
        return [render([[self.class_name(w) if w == keyword else w for w in doc[line]]])]


class MajorityKeyword(Transform):
    """3 or 5 sentences get keyword 1 or 2; say which occurs more often."""

    tid, names = "d12", ("keyword_1", "keyword_2")

    def num_lines(self, rng):
        return 2 * int(rng.integers(1, 3)) + 1

    def summarize(self, rng, doc):
        counts = [sum(words.count(k) for _, words in self.found(doc)) for k in self.keywords]
        return [f"The keyword {int(np.argmax(counts)) + 1} occurred more number of times ."]


class TopicSegregation(ReplaceClassKeyword):
    """2-5 sentences get class keywords; list them under one `section <class>` heading per class."""

    tid, lines_needed = "d13", (2, 5)

    def summarize(self, rng, doc):
        hits = self.found(doc)
        out = []
        for c in range(3):
            out.append(f"section {self.keyword(f'class_{c}')}")
            out.extend(render([doc[line]]) for line, words in hits if self.keywords.index(words[0]) // 3 == c)
        return out


class ThresholdNumber(Transform):
    """A number 0-99 is planted; say whether it is at least 50."""

    tid, names = "d14", tuple(str(n) for n in range(100))

    def number(self, keyword: str) -> int:
        return self.keywords.index(keyword)

    def summarize(self, rng, doc):
        _, (keyword, *_) = self.single(doc)
        if self.number(keyword) >= 50:
            return ["the number was above or equal to threshold ."]
        return ["the number was below threshold ."]


class LargestNumber(ThresholdNumber):
    """1-4 distinct numbers on distinct sentences; state the largest."""

    tid, lines_needed = "d16", (1, 4)

    def modify(self, rng, doc):
        self.plant(rng, doc, self.draw_keywords(rng, self.num_lines(rng), distinct=True))

    def summarize(self, rng, doc):
        largest = max(self.number(w) for _, words in self.found(doc) for w in words)
        return [f"The largest number is {largest} ."]


class ParaphraseWords(Transform):
    """A source word src_i is planted; copy its sentence with src_i replaced by a random paraphrase target_i_j."""

    tid = "d18"
    names = tuple(f"src_{i}" for i in range(20))

    def paraphrase(self, rng: np.random.Generator, keyword: str) -> str:
        return self.keyword(f"target_{self.keywords.index(keyword)}_{int(rng.integers(3))}")

    def summarize(self, rng, doc):
        out = []
        for line, (keyword, *_) in self.found(doc):
            replacement = self.paraphrase(rng, keyword)
            out.append(render([[replacement if w == keyword else w for w in doc[line]]]))
        return out


class JoinClauses(Transform):
    """Three distinct joiners on three sentences; join each joiner and the clause after it into one sentence."""

    tid, names, lines_needed, free_before_end = "d19", _keyword_names("join_", 5), 3, 2

    def modify(self, rng, doc):
        self.plant(rng, doc, self.draw_keywords(rng, 3, distinct=True))

    def summarize(self, rng, doc):
        parts = ["The combined sentence is"]
        for line, (keyword, *_) in self.found(doc):
            words = doc[line]
            parts.extend(words[words.index(keyword) : -1])
        return [" ".join([*parts, END])]


class BreakClauses(Transform):
    """Two distinct joiners in one sentence; break it into two sentences that share the words before them."""

    tid, names, min_free = "d20", _keyword_names("join_", 5), 2

    def modify(self, rng, doc):
        (line,) = self.choose_lines(rng, doc, 1)
        words = doc[line]
        positions = rng.choice(free_positions(words), size=2, replace=False)
        for position, keyword in zip(positions.tolist(), self.draw_keywords(rng, 2, distinct=True), strict=True):
            words[position] = keyword

    def summarize(self, rng, doc):
        line, keywords = self.single(doc)
        words = doc[line]
        first, second = sorted(words.index(k) for k in keywords[:2])
        prefix = words[:first]
        return [render([[*prefix, *words[first:second], END]]), render([[*prefix, *words[second:-1], END]])]


class TruncateSentence(CopyKeywordOneSentence):
    """Copy the keyword sentence up to (not including) the keyword, then ' .'."""

    tid = "d21"

    def summarize(self, rng, doc):
        line, (keyword, *_) = self.single(doc)
        words = doc[line]
        return [render([[*words[: words.index(keyword)], END]])]


TRANSFORMS: dict[str, Transform] = {
    cls.__name__: cls()
    for cls in (
        CopyKeywordOneSentence,
        CopyKeywordMultipleSentences,
        CopyKeywordMultipleSentencesShuffled,
        CopyKeywordMultipleSentencesSorted,
        CopyQuoted,
        CopyBulleted,
        ClassifyKeyword,
        ReplaceClassKeyword,
        MajorityKeyword,
        TopicSegregation,
        ThresholdNumber,
        LargestNumber,
        ParaphraseWords,
        JoinClauses,
        BreakClauses,
        TruncateSentence,
    )
}
"""The 16 subtasks used for the paper's corpus, in the authors' order."""

_TRANSFORM_LIST = list(TRANSFORMS.values())


def apply_transforms(rng: np.random.Generator, doc: Document, transforms: list[Transform]) -> list[str]:
    """Run every transform's `modify`, then concatenate their summaries (in the given order)."""
    for transform in transforms:
        transform.modify(rng, doc)
    return [line for transform in transforms for line in transform.summarize(rng, doc)]


def make_example(rng: np.random.Generator, transforms_per_document: int = TRANSFORMS_PER_DOCUMENT) -> tuple[str, str]:
    """One (article, summary) pair: a random document and 3 distinct random transforms."""
    for _ in range(100):
        doc = random_document(rng)
        chosen = [_TRANSFORM_LIST[i] for i in rng.choice(len(_TRANSFORM_LIST), transforms_per_document, replace=False)]
        try:
            summary = apply_transforms(rng, doc, chosen)
        except NotApplicable:
            continue
        return render(doc), render(summary)
    raise RuntimeError("could not build a nonsense document in 100 draws")  # unreachable with the defaults


def example_rng(seed: int, stream: int, index: int) -> np.random.Generator:
    """Generator of document `index` of a split stream: documents are independent, so any range can be made."""
    return np.random.default_rng(np.random.SeedSequence([0x4E0, int(seed), int(stream), int(index)]))


def make_examples(seed: int, stream: int, indices: range | list[int]) -> list[tuple[str, str]]:
    return [make_example(example_rng(seed, stream, i)) for i in indices]
