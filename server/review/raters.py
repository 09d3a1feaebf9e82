"""Interviewer calibration: how each interviewer's 1-5 ratings compare with other interviewers'
ratings of the same candidates, and with the AI's evidence. (Not the calibration of analyzer
thresholds from cue verdicts: that is calibration.py.)

A *cell* is one candidate and one competency, or the candidate overall for ratings that name no
competency. An interviewer who rated a cell several times (one comment per question) counts once,
with the mean of their ratings there, so talkative reviewers do not outweigh the others.

- Against peers: in each cell two or more interviewers rated, an interviewer's difference is their
  rating minus the mean of the other interviewers' ratings there, in rating points. Positive means
  they rate higher than their peers.
- Against the evidence: in each competency cell where the AI scored the candidate on that
  competency (a tagger's CandidateTag score, 0..1), the difference is the rating put on the same
  scale, (r - 1) / 4, minus the score. Positive means they rate higher than the evidence says.
  Manual and migrated scores are not evidence: they are someone's judgement, not the analysis'.

Per interviewer, overall and per competency: the mean difference (bias), the mean absolute
difference, and how many cells were shared. A competency is flagged when the bias reaches
FLAG_POINTS over at least MIN_SHARED shared cells.

Scope: HR and IT admins read the organisation's ratings, a department head those of their
departments' candidates (scoping.department_candidates). Only aggregates leave this module, never a
candidate or a comment, which is why an IT admin, who sees no candidate data, may see them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import peewee as pw

from .. import models as m
from .. import scoping
from ..pool import taxonomy
from .ratings import CompetencyNames, average, rated_comments

FLAG_POINTS = 0.75
"""Bias (mean difference, rating points) that flags an interviewer. Ratings are whole points, so a
single disagreement is a whole point and chance disagreements in both directions cancel out; a
mean of 0.75 means being off in the same direction on about three cells in four, which is a habit,
not noise."""

EVIDENCE_FLAG = FLAG_POINTS / 4
"""The same gap on the 0..1 scale of the AI's scores (a rating point is a quarter of it)."""

MIN_SHARED = 3
"""Shared cells an interviewer needs before a bias is flagged: one or two candidates can differ
for reasons that say nothing about the interviewer."""

NOT_EVIDENCE = ("manual", "migration")
"""CandidateTag sources that are a person's score, not the analysis'."""

Cell = tuple  # (candidate id, competency key or None)


@dataclass
class Gap:
    """Differences from a reference (peers or evidence), and whether they make a habit."""

    threshold: float
    diffs: list[float] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.diffs)

    @property
    def bias(self) -> float | None:
        return average(self.diffs)

    @property
    def spread(self) -> float | None:
        """Mean absolute difference: how far off, whatever the direction."""
        return average([abs(d) for d in self.diffs])

    @property
    def flag(self) -> str | None:
        """'over', 'under' or None."""
        if self.count < MIN_SHARED or abs(self.bias) < self.threshold - 1e-9:
            return None
        return "over" if self.bias > 0 else "under"


@dataclass
class Line:
    """One interviewer's ratings, overall or of one competency, against peers and evidence."""

    key: str | None  # competency key; None: overall (the interviewer's row) or ratings naming none
    label: str
    ratings: list[int] = field(default_factory=list)
    peers: Gap = field(default_factory=lambda: Gap(FLAG_POINTS))
    evidence: Gap = field(default_factory=lambda: Gap(EVIDENCE_FLAG))

    @property
    def mean_rating(self) -> float | None:
        return average(self.ratings)


@dataclass
class RaterReport:
    rater_id: int | None
    name: str
    overall: Line
    competencies: list[Line]

    @property
    def flags(self) -> list[tuple[Line, str, str]]:
        """(competency line, 'peers' or 'evidence', 'over' or 'under') of every flag raised."""
        return [(line, against, gap.flag) for line in self.competencies
                for against, gap in (("peers", line.peers), ("evidence", line.evidence)) if gap.flag]


@dataclass(frozen=True)
class Observation:
    """One rating as calibration reads it."""

    rater_id: int | None  # None: the reviewer's account was deleted (comments keep their name)
    name: str
    candidate_id: int
    competency: str | None
    rating: int

    @property
    def rater(self) -> int | str:
        # The account, so two people of one name stay apart and a renamed one stays one.
        return self.rater_id if self.rater_id is not None else f"former account: {self.name}"


def cells(observations: list[Observation]) -> dict[Cell, dict]:
    """Each rater's mean rating in each cell they rated."""
    raw: dict[Cell, dict] = defaultdict(lambda: defaultdict(list))
    for o in observations:
        raw[(o.candidate_id, o.competency)][o.rater].append(o.rating)
    return {cell: {rater: average(values) for rater, values in by_rater.items()} for cell, by_rater in raw.items()}


def calibrate(observations: list[Observation], evidence: dict[Cell, float], labels: dict[str, str],
              overall_label: str, no_competency_label: str) -> list[RaterReport]:
    """Per rater (sorted by name): overall and per competency lines. `evidence` holds the AI's
    score per competency cell that has one; `labels` names competency keys for people."""
    rated = cells(observations)
    names = {o.rater: o.name for o in observations}  # observations come oldest first: the latest name wins
    lines: dict = defaultdict(dict)
    overall: dict = {}

    def line(rater, key) -> Line:
        if key not in lines[rater]:
            lines[rater][key] = Line(key, labels.get(key, key) if key is not None else no_competency_label)
        return lines[rater][key]

    for o in observations:
        overall.setdefault(o.rater, Line(None, overall_label)).ratings.append(o.rating)
        line(o.rater, o.competency).ratings.append(o.rating)
    for (candidate_id, key), by_rater in rated.items():
        score = evidence.get((candidate_id, key)) if key is not None else None
        for rater, mine in by_rater.items():
            others = [value for other, value in by_rater.items() if other != rater]
            targets = (line(rater, key), overall[rater])
            if others:
                for target in targets:
                    target.peers.diffs.append(mine - average(others))
            if score is not None:
                for target in targets:
                    target.evidence.diffs.append((mine - 1) / 4 - score)
    reports = [RaterReport(rater if isinstance(rater, int) else None, names[rater], overall[rater],
                           sorted(lines[rater].values(), key=lambda ln: (ln.key is None, ln.label.casefold())))
               for rater in overall]
    return sorted(reports, key=lambda r: (r.name.casefold(), r.rater_id or 0))


def candidate_scope(user) -> pw.Expression | None:
    """Which candidates' ratings the user's calibration page reads; None: none at all."""
    roles = user.roles
    in_org = m.Candidate.organisation == user.organisation_id
    if roles & {"hr", "it_admin"}:
        return in_org
    if "dept_head" in roles and user.department_ids:
        return in_org & scoping.department_candidates(m.Candidate.id, user.department_ids)
    return None


def _evidence(wanted: dict[Cell, int]) -> dict[Cell, float]:
    """The AI's best score of each (candidate, competency) asked, the competency given by its tag
    id; tags merged into it count as it (the taxonomy's families)."""
    owner = {member: tag_id for tag_id in set(wanted.values()) for member in taxonomy.family_ids(m.Tag.get_by_id(tag_id))}
    if not owner:
        return {}
    rows = (m.CandidateTag.select(m.CandidateTag.candidate, m.CandidateTag.tag, m.CandidateTag.score)
            .where(m.CandidateTag.candidate.in_(sorted({cid for cid, _key in wanted}))
                   & m.CandidateTag.tag.in_(sorted(owner)) & m.CandidateTag.score.is_null(False)
                   & m.CandidateTag.source.not_in(NOT_EVIDENCE)).tuples())
    best: dict[tuple[int, int], float] = {}
    for candidate_id, tag_id, score in rows:
        at = (candidate_id, owner[tag_id])
        best[at] = max(score, best.get(at, score))
    return {cell: best[(cell[0], tag_id)] for cell, tag_id in wanted.items() if (cell[0], tag_id) in best}


def read(user, locale: str | None) -> tuple[list[Observation], dict[Cell, float], dict[str, str]]:
    """The ratings in the user's scope as observations, the AI evidence for their competency cells,
    and the competencies' labels."""
    scope = candidate_scope(user)
    if scope is None:
        return [], {}, {}
    names = CompetencyNames(user.organisation_id, locale)
    observations, labels, wanted = [], {}, {}
    query = rated_comments(m.Recording.candidate.in_(m.Candidate.select(m.Candidate.id).where(scope)))
    for comment in query:
        competency = names(comment.competency)
        key = competency.key if competency else None
        if competency is not None:
            labels[key] = competency.label
            if competency.is_competency_tag:
                wanted[(comment.recording.candidate_id, key)] = competency.tag_id
        observations.append(Observation(comment.author_id, comment.author_name, comment.recording.candidate_id, key, comment.rating))
    return observations, _evidence(wanted), labels
