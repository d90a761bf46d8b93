"""Task detection: what kind of answer a message asks for, with the options when it has some.

`detect_task(text) -> TaskInfo`, one of:

- `multiple_choice`: options found in the text — one per line (`A. ...`, `(b) ...`, `1) ...`,
  `- ...` after a question), inline (`(A) tea (B) coffee`, `A) tea B) coffee`), or listed after a
  cue (`Options: tea, coffee, water`, `Choose from: ...`, `Answer with one of ...`);
- `classification`: a labelling request (`classify`, `sentiment`, `true or false`, `yes or no`,
  `agree or disagree`); its labels are extracted when the text lists them;
- `rewrite`: rewrite / rephrase / paraphrase / translate / proofread / make it more polite;
- `advice`: should I / how can I / any tips / recommend / is it rude to ...;
- `open_qa`: any other question (a question mark in any script, or a question word);
- `other`: everything else (greetings, statements, creative requests).

Beside the name, `request` says what kind of reply is asked for (`detection.requests`): a short
`fact`, or a text to `write`, `how` to do something or why, `advice`, a `compare`, or `multi`ple
questions at once.
"""

from __future__ import annotations

import re

from manyshores.detection.requests import request_kind
from manyshores.state import TaskInfo, TaskName

_LINE_OPTION = re.compile(
    r"^\s*(?:\(?(?P<letter>[A-Ja-j])[\).:]|\(?(?P<number>\d{1,2})[\).:]|(?P<bullet>[-*•]))\s+(?P<text>\S.*)$"
)
_INLINE_PAREN = re.compile(r"\(([A-Ja-j]|\d{1,2})\)\s*")
_INLINE_BARE = re.compile(r"(?:(?<=\s)|^)([A-J])\)\s+")
_CUE_WORDS = (
    r"(?:options?|choices?|choose(?:\s+one)?\s+(?:from|between|among)|pick\s+(?:one\s+)?from|"
    r"answer\s+with\s+(?:one\s+of|either)|one\s+of(?:\s+the\s+following)?|select\s+from|"
    r"opciones|opções|choix|optionen|pilihan|选项|선택지)\s*[:：]\s*"
)
_LIST = (
    # A quoted or bracketed part may hold the marks that otherwise end the list ("Why not?"),
    # and so may an option whose question mark a separator follows ("how close are you?, …").
    r"(?P<list>(?:\"[^\"\n]*\"|“[^”\n]*”|«[^»\n]*»|„[^“”\n]*[“”]|「[^」\n]*」|\([^()\n]*\)"
    r"|[?!](?=\s*[,;、，；])|[^\n?!])+?)"
)
_CUE = re.compile(
    # A full stop before a lower-case word ("… vs. amnokgang …") ends no sentence.
    _CUE_WORDS + _LIST + r"(?:[.?!](?:$|\s(?!\s*(?-i:[a-z])))|\n|$)",
    re.IGNORECASE | re.MULTILINE,
)
_CUE_NUMBERED = re.compile(
    # A list numbered "1. Very, 2. Rather": the full stop after each number ends no sentence.
    _CUE_WORDS
    + r"(?=1\.\s)"
    + _LIST
    + r"(?:(?<![,;]\s\d)(?<![,;]\d)(?<![,;]\s\d\d)(?<!^\d)(?<![:：]\s\d)\.(?:\s|$)"
    + r"|[?!](?:\s|$)|\n|$)",
    re.IGNORECASE | re.MULTILINE,
)
_SPLIT = re.compile(r"\s*(?:[,;/|、，；]|\bor\b|\bo\b|\bou\b|\boder\b|\batau\b)\s*", re.IGNORECASE)
_WHOLE = re.compile(
    r"(?P<quoted>\"[^\"\n]+\"|“[^”\n]+”|«[^»\n]+»|„[^“”\n]+[“”]|「[^」\n]+」|\([^()\n]*\)"
    r"|(?:(?<=^)|(?<=[\s,;/|:]))'[^'\n]+'(?=\s*(?:[,;/|]|$)))"
    r"|(?P<thousands>\d{1,3}(?:,\d{3})+(?:\.\d+)?)"
    r"|\d+(?:[:.\-/]\d+)+(?:\s?[ap]\.?m\.?)?"
)
"""Parts of an option list that are one option however they are punctuated: quoted or bracketed
text, and numbers with separators — thousands (1,000 / 1.000), decimals, times (08:00), dates
(05/19, 2024-05-19, 19.05.2024), ranges (2-3)."""
_QUOTES = {'"': '"', "“": "”", "«": "»", "„": "“”", "「": "」", "'": "'"}

_CLASSIFY = re.compile(
    r"\b(?:classify|classification|categori[sz]e|categor(?:y|ies)|label\s+(?:this|the|it)|"
    r"sentiment|true\s+or\s+false|yes\s+or\s+no|agree\s+or\s+disagree|positive\s+or\s+negative|"
    r"is\s+(?:this|it)\s+(?:polite|rude|appropriate|offensive|acceptable)\s+or)\b",
    re.IGNORECASE,
)
_LABELS_AFTER = re.compile(
    r"\b(?:as|into)\s+(?:either\s+)?(?P<list>(?:[\w'-]+\s*(?:,|or|and)\s*){1,8}[\w'-]+)"
    r"\s*(?:[:.?!]|$)",
    re.IGNORECASE,
)
_BINARY = re.compile(
    r"\b(true|yes|agree|positive)\s+or\s+(false|no|disagree|negative)\b", re.IGNORECASE
)
_REWRITE = re.compile(
    r"\b(?:re-?write|rephrase|paraphrase|reword|translate|proofread|polish|edit\s+(?:this|my|the)|"
    r"make\s+(?:this|it|my\s+\w+)\s+(?:more|less|sound)|correct\s+(?:the\s+)?(?:grammar|spelling)|"
    r"simplify\s+(?:this|the)|summari[sz]e|reescribe|traduce|réécris|traduis|umschreiben|"
    r"übersetze|tulis\s+ulang|terjemahkan)\b|改写|翻译|다시\s*써|번역",
    re.IGNORECASE,
)
_ADVICE = re.compile(
    r"\b(?:should\s+(?:i|we)|shall\s+i|how\s+(?:can|do|should)\s+(?:i|we)|what\s+should\s+(?:i|we)|"
    r"any\s+(?:tips|advice|suggestions)|advice|advise|recommend|suggest(?:ion)?s?|"
    r"is\s+it\s+(?:ok|okay|rude|appropriate|polite|acceptable)\s+(?:to|if)|"
    r"what(?:'s|\s+is)\s+the\s+best\s+way\s+to|help\s+me\s+(?:decide|choose|plan)|"
    r"what\s+(?:gift|present)\s+should|deber[ií]a|me\s+recomiendas|consejos?|devrais-je|"
    r"conseils?|sollte\s+ich|sebaiknya|saran|rekomendasi)\b|我应该|建议|推荐|해야\s*할까|추천",
    re.IGNORECASE,
)
_QUESTION_WORD = re.compile(
    r"^\s*(?:what|which|who|whom|whose|where|when|why|how|is|are|do|does|did|can|could|would|"
    r"will|was|were|has|have|tell\s+me|explain|describe|name|list)\b",
    re.IGNORECASE,
)
_QUESTION_MARKS = ("?", "？", "؟", ";")  # `;` is the Greek question mark


_ENUMERATOR = re.compile(
    r"^(?:\(?[A-Ja-j]\)|\(?\d{1,2}\)|\d{1,2}\s*(?:=|[:.-](?=\s+\D))|[A-Ja-j]\s*(?:=|[:.](?=\s)))\s*"
)
"""An enumerator before a listed option (`1 = `, `2. `, `b: `); never the start of the option
itself: `08:00`, `1.000` and `2-3` carry no space after their separator."""


_SENTENCE_AFTER_OPTION = re.compile(r"(?<=[?？؟!])\s+")
"""Where the question mark closing the last inline option is followed by more text."""


def _clean(option: str) -> str:
    return option.strip().strip(".;,?？؟!").strip()


def _clean_listed(option: str) -> str:
    """An option from an inline list, without its enumerator (`1 = Very important`) and
    without the quotes around it when it is quoted whole."""
    raw = _ENUMERATOR.sub("", option.strip())
    option = _clean(raw)
    if re.search(r"\b[ap]\.m$", option, re.IGNORECASE) and raw.rstrip().endswith("."):
        option += "."  # "8 a.m." keeps the full stop that belongs to it
    close = _QUOTES.get(option[:1])
    if close and len(option) > 1 and option[-1] in close:
        option = option[1:-1].strip()
    return option


def split_listed(raw: str) -> list[str]:
    """An inline option list split at its separators, keeping whole what `_WHOLE` finds: the
    parts are set aside, the rest split, and the parts put back."""
    kept: list[str] = []
    # "100,200,300" with no space after any comma is more likely three options than a number.
    spaced = bool(re.search(r"[,;]\s", raw)) or not re.search(r"\d,\d", raw)

    def keep(m: re.Match[str]) -> str:
        if m.group("thousands") and not spaced:
            return m.group(0)
        kept.append(m.group(0))
        return f"\x00{len(kept) - 1}\x00"

    masked = _WHOLE.sub(keep, raw)
    parts = _SPLIT.split(masked)
    return [re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], p) for p in parts]


def _line_options(text: str) -> tuple[str, list[str]] | None:
    lines = text.splitlines()
    best: tuple[int, int, list[str]] | None = None
    i = 0
    while i < len(lines):
        run: list[str] = []
        markers: list[str] = []
        j = i
        while j < len(lines):
            m = _LINE_OPTION.match(lines[j])
            if not m:
                break
            marker = m.group("letter") or m.group("number") or m.group("bullet") or ""
            if markers and not _consecutive(markers[-1], marker):
                break
            markers.append(marker)
            run.append(_clean(m.group("text")))
            j += 1
        if len(run) >= 2 and (best is None or len(run) > len(best[2])):
            best = (i, j, run)
        i = max(j, i + 1)
    if best is None:
        return None
    start, end, options = best
    question = "\n".join(lines[:start] + lines[end:]).strip()
    return question, options


def _consecutive(prev: str, cur: str) -> bool:
    if prev in "-*•" or cur in "-*•":
        return prev == cur
    if prev.isdigit() and cur.isdigit():
        return int(cur) == int(prev) + 1
    if prev.isalpha() and cur.isalpha():
        return ord(cur.lower()) == ord(prev.lower()) + 1
    return False


def _inline_options(text: str) -> tuple[str, list[str]] | None:
    for pattern in (_INLINE_PAREN, _INLINE_BARE):
        marks = list(pattern.finditer(text))
        if len(marks) < 2:
            continue
        labels = [m.group(1) for m in marks]
        if not all(_consecutive(a, b) for a, b in zip(labels, labels[1:], strict=False)):
            continue
        options = []
        for k, m in enumerate(marks):
            end = marks[k + 1].start() if k + 1 < len(marks) else len(text)
            options.append(_clean(text[m.end() : end]))
        # A trailing sentence after the last option belongs to the question, not the option.
        last = text[marks[-1].end() :]
        options[-1] = _clean(_SENTENCE_AFTER_OPTION.split(last.split("\n", 1)[0], 1)[0])
        if all(options):
            return text[: marks[0].start()].strip(), options
    return None


def _cue_options(text: str) -> tuple[str, list[str]] | None:
    m = _CUE_NUMBERED.search(text) or _CUE.search(text)
    if not m:
        return None
    raw = m.group("list").strip().rstrip(".?!")
    if re.search(r"\b[ap]\.m$", raw, re.IGNORECASE) and text[m.end("list") :].startswith("."):
        raw += "."  # the list's last full stop belongs to its last option ("10 a.m.")
    options = [o for o in (_clean_listed(o) for o in split_listed(raw)) if o]
    if len(options) < 2:
        return None
    return (text[: m.start()] + " " + text[m.end() :]).strip(), options


def extract_options(text: str) -> tuple[str, list[str]]:
    """(question without its option list, options); options empty when there are none."""
    for finder in (_line_options, _inline_options, _cue_options):
        found = finder(text)
        if found is not None:
            question, options = found
            return question or text.strip(), options
    return text.strip(), []


def _is_question(text: str) -> bool:
    stripped = text.strip()
    return (
        any(q in stripped for q in _QUESTION_MARKS[:3])
        or (stripped.endswith(";") and any("\u0370" <= ch <= "\u03ff" for ch in stripped))
        or bool(_QUESTION_WORD.match(stripped))
    )


def detect_task(text: str) -> TaskInfo:
    """The task a user message asks for (see the module docstring)."""
    question, options = extract_options(text)
    name: TaskName
    if _CLASSIFY.search(text):
        name = "classification"
        if not options:
            binary = _BINARY.search(text)
            labels = _LABELS_AFTER.search(text)
            if binary:
                options = [binary.group(1), binary.group(2)]
            elif labels:
                options = [_clean(o) for o in _SPLIT.split(labels.group("list")) if _clean(o)]
                options = [o for o in options if o.lower() != "and"] if len(options) >= 2 else []
    elif options:
        name = "multiple_choice"
    elif _REWRITE.search(text):
        name = "rewrite"
    elif _ADVICE.search(text):
        name = "advice"
    elif _is_question(text):
        name = "open_qa"
    else:
        name = "other"
    return {
        "name": name,
        "question": question,
        "options": options,
        "request": request_kind(question, options),
    }
