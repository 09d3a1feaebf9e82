"""Word error rate, and finding a known sentence (an interview question) inside a transcript.

Both are edit distances over normalised tokens (see `text`): WER aligns two whole token lists,
the question search lets the question match any stretch of the transcript.
"""

from __future__ import annotations

from dataclasses import dataclass

from .text import normalise_words


@dataclass(frozen=True)
class WordErrors:
    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        if not self.reference_words:
            return 0.0 if not self.insertions else 1.0
        return self.errors / self.reference_words


def word_errors(reference: list[str], hypothesis: list[str]) -> WordErrors:
    """Levenshtein alignment of token lists, counting each kind of error."""
    # Each cell holds (cost, substitutions, deletions, insertions); one row at a time.
    previous = [(j, 0, 0, j) for j in range(len(hypothesis) + 1)]
    for i, ref in enumerate(reference, 1):
        row = [(i, 0, i, 0)]
        for j, hyp in enumerate(hypothesis, 1):
            diagonal = previous[j - 1]
            if ref == hyp:
                best = diagonal
            else:
                best = min(
                    (diagonal[0] + 1, diagonal[1] + 1, diagonal[2], diagonal[3]),
                    (previous[j][0] + 1, previous[j][1], previous[j][2] + 1, previous[j][3]),
                    (row[j - 1][0] + 1, row[j - 1][1], row[j - 1][2], row[j - 1][3] + 1),
                )
            row.append(best)
        previous = row
    _, subs, dels, ins = previous[-1]
    return WordErrors(subs, dels, ins, len(reference))


def word_error_rate(reference: str, hypothesis: str, language: str = "en") -> float:
    """WER of `hypothesis` against `reference` after the standard normalisation."""
    return word_errors(normalise_words(reference, language), normalise_words(hypothesis, language)).rate


@dataclass(frozen=True)
class SpanMatch:
    start: int  # index of the first transcript token of the match
    end: int  # index after its last token
    distance: int  # edit distance between the question and that stretch

    def error_rate(self, phrase_length: int) -> float:
        return self.distance / max(1, phrase_length)


def find_phrase(tokens: list[str], phrase: list[str]) -> SpanMatch | None:
    """The stretch of `tokens` closest to `phrase` (edit distance with free start and end in
    `tokens`); None when either is empty. Ties prefer the longer stretch: a misheard word
    is more likely than a question word missing next to an unexplained extra one."""
    if not tokens or not phrase:
        return None
    # cost[j], begin[j]: best alignment of the phrase so far ending at token j, and where it began.
    cost = [0] * (len(tokens) + 1)
    begin = list(range(len(tokens) + 1))
    for i, word in enumerate(phrase, 1):
        new_cost, new_begin = [i], [0]
        for j, token in enumerate(tokens, 1):
            options = (
                (cost[j - 1] + (word != token), begin[j - 1]),  # match or substitute
                (cost[j] + 1, begin[j]),  # phrase word missing from the transcript
                (new_cost[j - 1] + 1, new_begin[j - 1]),  # extra transcript word
            )
            best = min(options, key=lambda o: (o[0], o[1]))
            new_cost.append(best[0])
            new_begin.append(best[1])
        cost, begin = new_cost, new_begin
    end = min(range(len(tokens) + 1), key=lambda j: (cost[j], begin[j] - j))
    return SpanMatch(begin[end], end, cost[end])
