"""Reviewers' comments and 1-5 ratings, and verdicts on AI cues: through the API and the replay
page, with validation, visibility to other reviewers who have access, and the audit trail."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from conftest import csrf_token_from
from talentreel.server import models as m
from talentreel.server.accounts import create_api_token, default_organisation
from talentreel.server.analysis import report as report_mod
from talentreel.server.analysis.contract import AnalysisInput
from talentreel.server.auth import passwords

API = "/api/v1"


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch):
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {create_api_token(user, 'test')[1]}"}


def analysed_recording(org, interview=None, duration=70.0) -> m.Recording:
    """A ready recording with a report assembled from analyzer parts, as the analysis job does."""
    candidate = interview.candidate if interview else m.Candidate.create(organisation=org, name="Ada Lovelace")
    recording = m.Recording.create(candidate=candidate, interview=interview, state="ready", duration_seconds=duration,
                                   original_name="ada.mp4")
    words = [{"word": w, "start": 10.0 + i, "end": 10.5 + i, "conf": 0.9} for i, w in enumerate("i led a team of five".split())]
    inp = AnalysisInput(recording_id=recording.id, audio_path=None, video_path=None, duration=duration, questions=["Tell me"])
    inp.parts = {
        "stt": {"engine": "pocketsphinx", "language": "en", "text": "i led a team of five", "words": words, "segments": []},
        "questions": {"answers": [{"question_index": 0, "question": "Tell me about a team.", "start": 9.0, "end": 40.0,
                                   "text": "i led a team of five"}]},
        "voice": {"events": [
            {"kind": "before_answer", "start": 6.0, "end": 9.0, "why": "3.0 s of silence before answering"},
            {"kind": "hesitation", "start": 20.0, "end": 22.5, "why": "2.5 s of silence inside the answer"},
        ]},
    }
    statuses = {"voice": {"name": "voice", "version": "1", "part": "voice", "state": "ran"}}
    report_mod.save(recording, report_mod.assemble(recording, inp, statuses))
    return recording


@pytest.fixture
def world(db, make_user):
    org = default_organisation()
    hr = make_user("hr", roles=("hr",))
    ivy = make_user("ivy", roles=("interviewer",), display_name="Ivy Interviewer")
    other = make_user("otto", roles=("interviewer",))
    candidate = m.Candidate.create(organisation=org, name="Ada Lovelace")
    interview = m.Interview.create(candidate=candidate, questions=["Tell me about a team."])
    m.InterviewInterviewer.create(interview=interview, user=ivy)
    recording = analysed_recording(org, interview)
    return {"org": org, "hr": hr, "ivy": ivy, "other": other, "recording": recording}


def test_comment_with_rating_is_seen_by_other_reviewers_with_access(client, world):
    recording = world["recording"]
    url = f"{API}/recordings/{recording.id}/comments"
    posted = client.post(url, json={"body": "  Clear, concrete example.  ", "rating": 4, "question_index": 0},
                         headers=bearer(world["ivy"]))
    assert posted.status_code == 201, posted.get_json()
    comment = posted.get_json()
    assert comment["body"] == "Clear, concrete example." and comment["rating"] == 4 and comment["question_index"] == 0
    assert comment["author_name"] == "Ivy Interviewer"

    moment = client.post(url, json={"body": "Long pause here.", "start_seconds": 20, "end_seconds": 22.5}, headers=bearer(world["hr"]))
    assert moment.status_code == 201 and moment.get_json()["rating"] is None

    seen = client.get(url, headers=bearer(world["hr"])).get_json()
    assert [c["body"] for c in seen["items"]] == ["Clear, concrete example.", "Long pause here."]
    assert seen["items"][1]["start_seconds"] == 20.0 and seen["items"][1]["end_seconds"] == 22.5
    # An interviewer not on this interview has no access: the recording does not exist for them.
    assert client.get(url, headers=bearer(world["other"])).status_code == 404
    assert client.post(url, json={"body": "x"}, headers=bearer(world["other"])).status_code == 404
    actions = [e.action for e in m.AuditEvent.select().where(m.AuditEvent.object_id == str(recording.id))]
    assert actions.count("review.comment") == 2 and "review.comments_view" in actions


@pytest.mark.parametrize("body, field, text", [
    ({"body": "   "}, "body", "must not be empty"),
    ({"body": "ok", "rating": 6}, "rating", "1 to 5"),
    ({"body": "ok", "rating": 0}, "rating", "1 to 5"),
    ({"body": "ok", "rating": 3.5}, "rating", "1 to 5"),
    ({"body": "ok", "question_index": 3}, "question_index", "no question 4"),
    ({"body": "ok", "start_seconds": 71}, "start_seconds", "within the recording"),
    ({"body": "ok", "start_seconds": 30, "end_seconds": 20}, "end_seconds", "after it starts"),
    ({"body": "ok", "end_seconds": 20}, "start_seconds", "needs its start"),
])
def test_comment_validation_names_the_field(client, world, body, field, text):
    response = client.post(f"{API}/recordings/{world['recording'].id}/comments", json=body, headers=bearer(world["hr"]))
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["field"] == field and text in response.get_json()["error"]
    assert m.ReviewComment.select().count() == 0  # nothing stored from a refused comment


def test_candidate_cannot_comment_on_their_own_report(client, world, make_user):
    account = make_user("ada", roles=("candidate",))
    m.Candidate.update(user=account).where(m.Candidate.id == world["recording"].candidate_id).execute()
    response = client.post(f"{API}/recordings/{world['recording'].id}/comments", json={"body": "I did well"}, headers=bearer(account))
    assert response.status_code == 404


def test_cue_verdicts_replace_and_name_bad_cues(client, world):
    recording, headers = world["recording"], bearer(world["ivy"])
    report = report_mod.latest(recording)
    hesitation = next(mo for mo in report.data["moments"] if mo["kind"] == "hesitation")
    assert hesitation["ref"] == "voice:1"
    url = f"{API}/recordings/{recording.id}/cue-feedback"
    first = client.post(url, json={"cue": "voice:1", "correct": False}, headers=headers)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["measure"] == 2.5 and first.get_json()["kind"] == "hesitation"
    again = client.post(url, json={"cue": "voice:1", "correct": True, "report_version": 1}, headers=headers)
    assert again.get_json()["correct"] is True
    assert m.CueFeedback.select().count() == 1  # marking the same cue again replaces the verdict

    for body, field, text in (({"cue": "voice:9", "correct": True}, "cue", "no cue voice:9"),
                              ({"cue": "voice", "correct": True}, "cue", "part:index"),
                              ({"cue": "voice:0", "correct": True, "report_version": 7}, "report_version", "no report version 7"),
                              ({"cue": "voice:0"}, "correct", "required")):
        response = client.post(url, json=body, headers=headers)
        assert response.status_code == 400 and response.get_json()["field"] == field and text in response.get_json()["error"]
    assert client.post(url, json={"cue": "voice:0", "correct": True}, headers=bearer(world["other"])).status_code == 404


def _sign_in(client, user):
    page = client.get("/login")
    response = client.post("/login", data={"username": user.username, "password": "correct horse battery",
                                           "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert response.status_code == 302


def test_replay_page_comment_form_and_cue_verdict(client, world):
    recording = world["recording"]
    _sign_in(client, world["ivy"])
    page = client.get(f"/recordings/{recording.id}").get_data(as_text=True)
    assert 'id="comment-form"' in page and "No comments yet." in page
    token = csrf_token_from(page)

    refused = client.post(f"/recordings/{recording.id}/comments",
                          data={"body": "Kept text", "rating": "9", "about": "", "csrf_token": token})
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert "rating: a rating is a whole number from 1 to 5" in html and "Kept text" in html  # typed text is kept

    done = client.post(f"/recordings/{recording.id}/comments",
                       data={"body": "Strong answer", "rating": "5", "about": "moment", "start_seconds": "12.5", "csrf_token": token})
    assert done.status_code == 302
    comment = m.ReviewComment.get()
    assert (comment.rating, comment.start_seconds, comment.author_id) == (5, 12.5, world["ivy"].id)

    verdict = client.post(f"/recordings/{recording.id}/cues",
                          data={"version": "1", "cue": "voice:0", "verdict": "wrong", "csrf_token": token})
    assert verdict.status_code == 302
    assert m.CueFeedback.get().correct is False

    # HR, another reviewer with access, sees Ivy's comment and rating.
    hr_client = client.application.test_client()
    _sign_in(hr_client, world["hr"])
    html = hr_client.get(f"/recordings/{recording.id}").get_data(as_text=True)
    assert "Strong answer" in html and "5/5" in html and "Ivy Interviewer" in html


def test_replay_page_says_when_none_of_the_listed_questions_was_heard(client, world):
    recording = world["recording"]
    _sign_in(client, world["ivy"])
    assert 'id="list-not-heard"' not in client.get(f"/recordings/{recording.id}").get_data(as_text=True)
    report = report_mod.latest(recording)
    data = dict(report.data)
    data["parts"] = {**data.get("parts", {}), "questions": {"method": "speaker_turns", "answers": [], "listed": 3, "listed_heard": 0}}
    m.Report.update(data=data).where(m.Report.id == report.id).execute()
    page = client.get(f"/recordings/{recording.id}").get_data(as_text=True)
    assert 'id="list-not-heard"' in page and "None of the 3 questions listed for this interview" in page
