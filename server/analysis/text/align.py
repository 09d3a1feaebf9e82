"""Which stretch of the transcript answers which question.

With the interview's question list, each question is looked for in the transcript by fuzzy
matching (ASR mishears words, interviewers paraphrase a little): a cheap sliding count of shared
tokens finds candidate places, difflib aligns the question against each and keeps the matched
stretch. The answer to a question is what is said after it until the next question is asked.
Without a list, or when not one of its questions is heard, the interviewer's turns are the
questions: segments of the speaker labelled (or found to be) the interviewer, else segments that
sound interrogative.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Mapping, Sequence

from .interrogative import is_question
from .tokens import Token, join, split, timed, words_of

MIN_MATCH = 0.5
"""Share of a question (Dice over tokens) that must be found for it to count as asked there."""

CANDIDATES = 5
"""Places refined with difflib per question: the best by shared-token count."""

EARLIEST_MARGIN = 0.15
"""An earlier place this close to the best score wins: a question is asked before it is echoed."""

INTERVIEWER = "interviewer"


@dataclass(frozen=True)
class Match:
    first: int  # token indices, inclusive
    last: int
    score: float
    lead: int = 0  # question tokens left unmatched before the first matched one (misheard opening)
    trail: int = 0  # and after the last one (misheard ending): see _widen


def align(stt: Mapping, questions: Sequence[str] = (), min_match: float = MIN_MATCH) -> dict:
    """{"method", "answers": [{"question_index", "question", "asked", "start", "end", "text"}]}."""
    words = words_of(stt)
    if questions:
        answers = _from_list(words, list(questions), min_match)
        if any(answer["asked"] for answer in answers):
            return {"method": "question_list", "answers": answers}
    turns, method = _turns(words)
    heard = _from_turns(turns)
    if questions and not heard:
        return {"method": "question_list", "answers": answers}
    # Not one listed question was heard (the list of another interview, asked in another language,
    # or all in other words): the interviewer's turns still tell the answers apart, which a
    # reviewer can replay; a report of nothing but "not found" cannot. `listed` says it happened.
    return {"method": method, "answers": heard, **({"listed": len(questions), "listed_heard": 0} if questions else {})}


# --- with a question list ---------------------------------------------------------------------


def locate(question: Sequence[str], texts: Sequence[str], claimed: Sequence[tuple[int, int]] = (),
           after: int = 0, min_match: float = MIN_MATCH) -> Match | None:
    """Where the question's tokens are said in `texts` at or after token `after`, or None."""
    m = len(question)
    if not m or len(texts) <= after:
        return None
    wanted = Counter(question)
    window: Counter = Counter()
    shared, places = 0, []
    for i in range(after, len(texts)):  # shared tokens of the window ending at i, kept up to date
        token = texts[i]
        if window[token] < wanted[token]:
            shared += 1
        window[token] += 1
        if i - after >= m:
            old = texts[i - m]
            window[old] -= 1
            if window[old] < wanted[old]:
                shared -= 1
        places.append((shared, max(after, i - m + 1)))
    chosen: list[int] = []
    for count, start in sorted(places, key=lambda place: (-place[0], place[1])):
        if count < min_match * m / 2 or len(chosen) == CANDIDATES:
            break
        if all(abs(start - other) >= max(1, m // 2) for other in chosen):  # neighbours refine to one place
            chosen.append(start)
    matches = []
    for start in chosen:
        match = _refine(question, texts, start, after)
        if match and match.score >= min_match and not any(a <= match.last and match.first <= b for a, b in claimed):
            matches.append(match)
    if not matches:
        return None
    best = max(match.score for match in matches)
    return min((match for match in matches if match.score >= best - EARLIEST_MARGIN), key=lambda match: match.first)


def _refine(question: Sequence[str], texts: Sequence[str], start: int, floor: int) -> Match | None:
    m = len(question)
    lo, hi = max(floor, start - m // 2), min(len(texts), start + m + m // 2)
    blocks = [b for b in SequenceMatcher(None, question, texts[lo:hi], autojunk=False).get_matching_blocks() if b.size]
    # A lone token matched far from the rest (a stray "the", "的") is not part of the question.
    while len(blocks) > 1 and blocks[0].size == 1 and blocks[1].b - blocks[0].b > 3:
        blocks.pop(0)
    while len(blocks) > 1 and blocks[-1].size == 1 and blocks[-1].b - (blocks[-2].b + blocks[-2].size) > 3:
        blocks.pop()
    if not blocks:
        return None
    matched = sum(b.size for b in blocks)
    first, last = lo + blocks[0].b, lo + blocks[-1].b + blocks[-1].size - 1
    lead, trail = blocks[0].a, m - blocks[-1].a - blocks[-1].size
    return Match(first, last, 2 * matched / (m + last - first + 1), lead, trail)


def _widen(match: Match, tokens: list[Token], words: list[dict]) -> Match:
    """Take in the question's misheard first and last words, so that they do not count as answer.

    The unmatched question tokens at either edge stand for about as many transcript tokens. When
    the engine's segment (the interviewer's turn) ends within half again that many, the span goes
    to the segment's edge; otherwise it takes exactly that many."""

    def segment(i):
        return words[tokens[i].word]["segment"]

    def reach(edge: int, count: int, step: int) -> int:
        if not count:
            return edge
        own = segment(edge)
        i = edge
        while 0 <= i + step < len(tokens) and abs(i + step - edge) <= count + max(1, count // 2) and segment(i + step) == own:
            i += step
        at_turn_end = not (0 <= i + step < len(tokens) and segment(i + step) == own)
        return i if at_turn_end else edge + step * min(count, abs(i - edge))

    return Match(reach(match.first, match.lead, -1), reach(match.last, match.trail, 1), match.score)


def _from_list(words: list[dict], questions: list[str], min_match: float) -> list[dict]:
    tokens = timed(words)
    texts = [t.text for t in tokens]
    found: dict[int, Match] = {}
    cursor = 0
    for index, question in enumerate(questions):
        claimed = [(m.first, m.last) for m in found.values()]
        wanted = split(question)
        # In order first; a question asked out of order is then looked for anywhere left.
        match = locate(wanted, texts, claimed, cursor, min_match) or locate(wanted, texts, claimed, 0, min_match)
        if match:
            found[index] = _widen(match, tokens, words)
            cursor = max(cursor, match.last + 1)
    asked_by = _asking_speaker(words, tokens, found.values())
    order = sorted(found, key=lambda i: found[i].first)
    answers = []
    for index, question in enumerate(questions):
        entry = {"question_index": index, "question": question, "asked": None, "start": None, "end": None, "text": ""}
        if index in found:
            match = found[index]
            position = order.index(index)
            until = found[order[position + 1]].first if position + 1 < len(order) else len(tokens)
            asked_words = words[tokens[match.first].word: tokens[match.last].word + 1]
            entry["asked"] = {"start": tokens[match.first].start, "end": tokens[match.last].end,
                              "text": join(w["word"] for w in asked_words), "match": round(match.score, 3)}
            reply = [w for w in words[tokens[match.last].word + 1: tokens[until].word if until < len(tokens) else len(words)]
                     if asked_by is None or w.get("speaker") != asked_by]
            entry.update(_span(reply))
        answers.append(entry)
    return answers


def _asking_speaker(words: list[dict], tokens: list[Token], matches) -> str | None:
    """The speaker label most heard asking the listed questions (None without labels): their other
    words are left out of the answers."""
    said = Counter(words[t.word].get("speaker") for m in matches for t in tokens[m.first: m.last + 1])
    said.pop(None, None)
    return said.most_common(1)[0][0] if said else None


def _span(words: Sequence[Mapping]) -> dict:
    if not words:
        return {"start": None, "end": None, "text": ""}
    return {"start": float(words[0]["start"]), "end": float(words[-1]["end"]), "text": join(w["word"] for w in words)}


# --- from the interviewer's turns -------------------------------------------------------------


def _segments(words: list[dict]) -> list[list[dict]]:
    groups: list[list[dict]] = []
    for word in words:
        if groups and word["segment"] == groups[-1][-1]["segment"]:
            groups[-1].append(word)
        else:
            groups.append([word])
    return groups


def _turns(words: list[dict]) -> tuple[list[tuple[bool, list[dict]]], str]:
    """(is the interviewer's question?, words) per turn, and how questions were told apart."""
    segments = [(seg, join(w["word"] for w in seg)) for seg in _segments(words)]
    speakers = Counter(seg[0].get("speaker") for seg, _ in segments)
    speakers.pop(None, None)
    interviewer = None
    if INTERVIEWER in speakers:
        interviewer = INTERVIEWER
    elif len(speakers) >= 2:
        asking = Counter(seg[0].get("speaker") for seg, text in segments if is_question(text))
        interviewer = asking.most_common(1)[0][0] if asking else None
    if interviewer is not None:
        flags = [seg[0].get("speaker") == interviewer for seg, _ in segments]
        method = "speaker_turns"
    else:
        flags = [is_question(text) for _, text in segments]
        method = "interrogative_turns"
    turns: list[tuple[bool, list[dict]]] = []
    for flag, (seg, _) in zip(flags, segments):
        if turns and turns[-1][0] == flag:
            turns[-1][1].extend(seg)
        else:
            turns.append((flag, list(seg)))
    return turns, method


def _from_turns(turns: list[tuple[bool, list[dict]]]) -> list[dict]:
    answers = []
    for position, (asking, said) in enumerate(turns):
        if not asking:
            continue  # talk before the first question, or an answer (taken below)
        reply = turns[position + 1][1] if position + 1 < len(turns) and not turns[position + 1][0] else []
        question = join(w["word"] for w in said)
        if not reply and not is_question(question):
            continue  # a closing "thank you", not a question
        answers.append({"question_index": len(answers), "question": question,
                        "asked": {"start": float(said[0]["start"]), "end": float(said[-1]["end"]), "text": question},
                        **_span(reply)})
    return answers
