"""Does a stretch of transcript sound like an interviewer's question?

ASR engines such as Vosk return no punctuation, so a question mark cannot be relied on. Besides
it, interview questions have recognisable openings: an imperative prompt ("tell me about",
"请介绍") or a question word addressed to the candidate ("how do you", "你如何"). Candidates'
answers speak about themselves ("I", "we", "我"), which is what keeps "what I did was..." out.
"""

from __future__ import annotations

import re

from .tokens import is_cjk, split

EN_FILLERS = {"um", "uh", "er", "erm", "so", "okay", "ok", "right", "well", "and", "now", "next", "alright", "great",
              "thanks", "thank", "you", "good", "question", "my", "the", "first", "last", "final", "another", "let's",
              "move", "on"}
"""Words an interviewer opens a turn with before the question itself ("okay, next question: ...")."""
EN_PROMPTS = ("tell me", "tell us", "describe", "walk me through", "walk us through", "give me an example",
              "give an example", "explain", "talk me through", "talk about", "share an example", "share a time",
              "introduce yourself", "please introduce", "please describe", "please tell")
EN_ASKING = {"how", "what", "why", "when", "where", "which", "who", "whom", "whose", "can", "could", "would", "will",
             "do", "did", "does", "have", "has", "had", "are", "were", "is", "should", "may"}
EN_ADDRESSEE = {"you", "your", "yours", "yourself"}

ZH_POLITE_PROMPTS = ("请介绍", "请描述", "请谈谈", "请说说", "请讲讲", "请举例", "请举个例子", "请分享", "请你", "请您")
"""Prompts that only an interviewer uses, found near the start ("下一个问题，请介绍...")."""
ZH_PROMPTS = ("介绍一下", "描述一下", "谈谈", "说说", "讲讲", "举个例子", "举例说明", "自我介绍", "分享一下")
"""Prompts a candidate might also say mid-answer ("我想说说..."): a question only as the opening."""
ZH_OPENING = 12
"""Characters from the start within which a polite prompt marks a question."""
ZH_ASKING = ("如何", "怎么", "怎样", "为什么", "为何", "什么", "哪些", "哪个", "哪里", "多少", "是否", "能否", "有没有", "会不会", "是不是")
ZH_FINAL = ("吗", "呢", "么")
ZH_ADDRESSEE = ("你", "您")

STRIP = re.compile(r"[\s,，。.!！、;；:：\"'“”‘’()（）]+$")


def is_question(text: str) -> bool:
    text = text.strip()
    if not text:
        return False
    bare = STRIP.sub("", text)
    if bare.endswith(("?", "？")):
        return True
    if any(is_cjk(c) for c in bare):
        return _zh_question(bare)
    return _en_question(split(bare))


def _zh_question(text: str) -> bool:
    body = text.lstrip("嗯啊呃那好的好吧，, ")
    if body.startswith(ZH_PROMPTS) or any(p in body[:ZH_OPENING] for p in ZH_POLITE_PROMPTS):
        return True
    addressed = any(a in body for a in ZH_ADDRESSEE)
    if addressed and any(q in body for q in ZH_ASKING):
        return True
    return addressed and body.endswith(ZH_FINAL)


def _en_question(words: list[str]) -> bool:
    while words and words[0] in EN_FILLERS:
        words = words[1:]
    if not words:
        return False
    opening = " ".join(words[:5])
    if opening.startswith(EN_PROMPTS):
        return True
    return words[0] in EN_ASKING and any(w in EN_ADDRESSEE for w in words[1:])
