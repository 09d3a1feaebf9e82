"""The `language` analyzer: keywords per answer (jieba for Chinese, YAKE for English) and competency
evidence from the taxonomy, on transcript_zh.json and the English fixture's truth."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import pytest

from talentreel.plugins import analyzer_language, analyzer_questions
from talentreel.server.analysis.contract import AnalysisInput, AnalyzerError, AnalyzerUnavailable
from talentreel.server.analysis.text.keywords import Keywords

from test_analyzer_questions import TRUTH, ZH, en_stt, questions_of, spans_by_question, zh_stt

DEFAULT_COMPETENCIES = {
    "communication": ("表达能力", "Communication"),
    "logical_thinking": ("逻辑思维", "Logical thinking"),
    "resilience": ("抗压能力", "Resilience"),
    "teamwork": ("团队协作", "Teamwork"),
    "expertise": ("专业技能", "Expertise"),
    "negotiation": ("客户谈判", "Negotiation"),
}


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    settings = {"data_dir": str(tmp_path_factory.mktemp("data"))}
    analyzer_language.preload(settings)
    return settings


def analyse(stt, language, settings, questions=(), parts=None, **kwargs) -> dict:
    return analyzer_language.run(AnalysisInput(recording_id=1, audio_path=None, video_path=None, duration=71.0,
                                               language=language, questions=list(questions),
                                               parts={"stt": stt, **(parts or {})}, settings=settings, **kwargs))


@pytest.fixture(scope="module")
def zh_report(settings):
    return analyse(zh_stt(), "zh", settings, questions_of(ZH["segments"]))


@pytest.fixture(scope="module")
def en_report(settings):
    return analyse(en_stt(), "en", settings, questions_of(TRUTH["segments"]))


def keywords(entry) -> list[str]:
    return [k["keyword"] for k in entry["keywords"]]


def answer(report, index) -> dict:
    return next(a for a in report["answers"] if a["question_index"] == index)


def evidence(report, competency, index=None) -> list[dict]:
    return [e for e in report["events"]
            if e["competency"] == competency and (index is None or e["question_index"] == index)]


def test_chinese_keywords_per_answer_and_overall(zh_report):
    assert zh_report["keyword_engine"] == "jieba"
    assert "团队" in keywords(answer(zh_report, 0))  # the project answer: "我每天早上和团队开短会"
    assert {"客户", "培训"} <= set(keywords(answer(zh_report, 2)))  # the negotiation answer
    # Over all answers (the candidate's speech only, not the questions): the top ten.
    assert {"团队", "客户", "培训"} <= set(keywords(zh_report))
    # The transcript's own expectation: each of these in the top ten of some answer.
    per_answer = set().union(*(keywords(a) for a in zh_report["answers"]))
    assert set(ZH["keywords_expected_somewhere_in_top10"]) <= per_answer
    assert not {"我会", "我们", "这个", "那个", "问题"} & per_answer  # fillers and pronouns are not keywords


def test_keywords_point_at_when_they_were_said(zh_report):
    spans = spans_by_question(ZH["segments"], "candidate")
    for entry in zh_report["answers"]:
        start, end = spans[entry["question_index"]]
        assert entry["start"] == pytest.approx(start) and entry["end"] == pytest.approx(end)
        for keyword in entry["keywords"]:
            assert 0 < keyword["weight"] <= 1.0
            assert keyword["moments"], keyword
            assert all(start <= m["start"] < m["end"] <= end for m in keyword["moments"])
    assert answer(zh_report, 0)["keywords"][0]["weight"] == 1.0


def test_chinese_competency_evidence(zh_report):
    assert evidence(zh_report, "teamwork", 0)  # 团队, 短会
    assert {"客户", "续约", "折扣"} <= {e["said"] for e in evidence(zh_report, "negotiation", 2)}
    assert "冷静" in {e["said"] for e in evidence(zh_report, "resilience", 1)}
    for event in zh_report["events"]:
        assert event["kind"] == "competency" and event["start"] < event["end"] and event["why"]
        assert event["label"] == DEFAULT_COMPETENCIES[event["competency"]][0]
    summary = zh_report["competencies"]
    assert set(summary) == set(DEFAULT_COMPETENCIES)
    assert summary["teamwork"]["answers"] == [0] and summary["teamwork"]["moments"] >= 1


def test_english_keywords_are_about_the_answer(en_report):
    assert en_report["keyword_engine"] == "yake"
    first, _, third = (" ".join(keywords(answer(en_report, i))) for i in range(3))
    assert any(word in first for word in ("team", "billing", "migrat"))
    assert any(word in third for word in ("customer", "discount", "contract", "training", "price"))
    every = [k for a in en_report["answers"] for k in keywords(a)] + keywords(en_report)
    assert not {"the", "and", "a", "i", "we", "um", "to"} & set(every)


def test_english_competency_evidence(en_report):
    start, end = spans_by_question(TRUTH["segments"], "candidate")[0]
    teamwork = evidence(en_report, "teamwork", 0)  # "I led a team of four engineers ... everyone could ask for help"
    assert teamwork and all(start <= e["start"] < e["end"] <= end for e in teamwork)
    assert {"led a team", "ask for help"} <= {e["said"] for e in teamwork}  # the longest phrase, not "team" inside it
    assert evidence(en_report, "negotiation", 2)  # the discount and the contract
    assert evidence(en_report, "resilience", 1)  # "I stay calm"
    # The interviewer's words are not the candidate's evidence ("...worked in a team..." is asked at 1-6 s).
    first_answer = spans_by_question(TRUTH["segments"], "candidate")[0][0]
    assert all(e["start"] >= first_answer for e in en_report["events"])


def test_answers_come_from_the_questions_part_when_it_ran(settings, zh_report):
    stt = zh_stt()
    part = analyzer_questions.run(AnalysisInput(recording_id=1, audio_path=None, video_path=None, duration=71.0,
                                                language="zh", parts={"stt": stt}))
    report = analyse(stt, "zh", settings, parts={"questions": part})
    assert report["answers_from"] == "questions part" and zh_report["answers_from"] == "own alignment"
    assert report["events"] == zh_report["events"] and report["keywords"] == zh_report["keywords"]


def test_no_recognisable_question_reads_the_whole_transcript(settings):
    stt = en_stt()
    stt["segments"] = [s for s in stt["segments"] if not s["text"].startswith(("tell", "how", "describe"))]
    stt["words"] = [w for s in stt["segments"] for w in s["words"]]
    report = analyse(stt, "en", settings)
    assert report["answers_from"] == "whole transcript"
    assert [a["question_index"] for a in report["answers"]] == [None]
    assert evidence(report, "teamwork")


def test_default_taxonomy_has_the_six_competencies_in_both_languages():
    data = tomllib.loads(analyzer_language.DEFAULT_TAXONOMY.read_text(encoding="utf-8"))["competencies"]
    assert set(data) == set(DEFAULT_COMPETENCIES)
    for key, (zh, en) in DEFAULT_COMPETENCIES.items():
        assert data[key]["labels"] == {"zh": zh, "en": en}
        assert len(data[key]["phrases"]["zh"]) >= 10 and len(data[key]["phrases"]["en"]) >= 10


def test_hr_taxonomy_file_replaces_the_default_and_edits_apply(settings, tmp_path):
    path = tmp_path / "taxonomy.toml"
    path.write_text('[competencies.ownership]\nlabels = { en = "Ownership" }\nphrases.en = ["i made sure"]\n')
    own = {**settings, "taxonomy_path": str(path)}
    report = analyse(en_stt(), "en", own)
    assert report["taxonomy"] == {"source": str(path), "competencies": ["ownership"]}
    assert [e["said"] for e in report["events"]] == ["i made sure"]
    path.write_text('[competencies.ownership]\nlabels = { en = "Ownership" }\nphrases.en = ["delivered"]\n')
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)  # an edit within the same clock tick
    assert [e["said"] for e in analyse(en_stt(), "en", own)["events"]] == ["delivered"]


@pytest.mark.parametrize("content, complaint", [
    ("competencies = 3", "competencies"),
    ("[competencies.x]\nlabels = { en = 'X' }\nphrases.en = 'team'\n", "phrases.en must be a list"),
    ("[competencies.x\n", "not valid TOML"),
])
def test_broken_taxonomy_is_refused_naming_the_setting(settings, tmp_path, content, complaint):
    path = tmp_path / "taxonomy.toml"
    path.write_text(content)
    bad = {**settings, "taxonomy_path": str(path)}
    with pytest.raises(AnalyzerUnavailable, match=complaint) as refused:
        analyzer_language.preload(bad)
    assert "taxonomy_path" in str(refused.value)
    with pytest.raises(AnalyzerError, match=complaint):
        analyse(en_stt(), "en", bad)
    with pytest.raises(AnalyzerUnavailable, match="no such file"):
        analyzer_language.preload({**settings, "taxonomy_path": str(tmp_path / "missing.toml")})


def test_jieba_caches_under_the_data_directory_and_stays_quiet(tmp_path, capfd):
    extractor = Keywords(tmp_path / "cache")
    assert [k["keyword"] for k in extractor.extract("我们的团队和客户一起完成培训", "zh", 3)]
    assert list((tmp_path / "cache").glob("jieba*.cache"))
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_description_and_a_light_import():
    (description,) = analyzer_language.talentreel_analyzers()
    assert description["name"] == "language" and description["consent"] == "ai"
    assert description["needs"] == ["transcript"]
    assert description["preload"] == "talentreel.plugins.analyzer_language:preload"
    code = "import sys, talentreel.plugins.analyzer_language; print(sorted({'jieba', 'yake'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip() == "[]"
