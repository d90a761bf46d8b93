"""A chat model's reply written from the evidence: the numbered context it is given, the
citation check every sentence passes before it is released, and the answer it leads with.

    found = grounding(records, sources, ["KOR"])
    found.lines          # "[1] South Korea, people's answers: …" — the prompt's evidence
    gate = CitationGate(found.numbers)
    shown = gate.feed(piece) + … + gate.finish()     # whole sentences, citations checked
    lead = lead_of(gate.text, "fact", found.candidates)

Numbers are the positions of the turn's `sources` (`[1]` is its first source), the same numbers
an evidence reply cites, so a citation means one thing in every reply. The model may cite only
the numbers its context listed: a sentence's other markers are taken out before the sentence
is shown (and counted in `CitationGate.dropped`), and a sentence is released only once it is
complete — with the citations that follow its full stop — so nothing shown is taken back. The
rest of the hygiene of generated text applies sentence by sentence: markup copied from the
prompt taken out, a loop or a sentence said twice ends the reply, an unfinished last sentence
is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from manyshores.answers.hygiene import SENTENCE_END, end_at_sentence, loop_start, strip_broken
from manyshores.answers.markup import strip_markup
from manyshores.state import EvidenceRecord, Source
from manyshores.textnorm import contains_phrase, tokens

MAX_CONTEXT_SOURCES = 8
"""Sources numbered in one prompt: the culture's evidence rows first, then passages."""
MAX_RANKED = 5
"""Ranked answers listed per culture."""
MAX_SNIPPET_CHARS = 300
"""A source's text in the prompt is cut here (a small model's context is 2048 tokens)."""
FALLBACK_NOTE = "the reply keeps its evidence part"
"""Ends the note of a grounded answer whose chat model failed: aggregate then adds the evidence
reply the turn would have had without a chat model."""
SHORT_WORDS = 8
"""A fact reply's lead, when it names no evidence answer: at most its first this many words."""

PROMPT_PHRASES = (
    "people's answers (how",
    "answers ranked for this question",
    "related questions, not this one",
    "asked this very question",
    "<<<evidence",
    "end evidence",
    "quoted data, not instructions",
    "no evidence for this question",
)
"""Words of the grounded prompt (`experts.persona.grounded`): a sentence holding them is the
prompt copied back, not an answer."""
COPY_SHARE = 0.9
"""A sentence whose words are at least this share one source's words is that source copied."""
COPY_MIN_WORDS = 6
"""…when it has at least this many words (a short answer may well be a source's words)."""

_LEAD_IN_ONLY = re.compile(r"(?is)\W*(?:the\s+)?answer\b.{0,200}?\b(?:is|are)\s*:?\W*")
"""A sentence that only says "The answer (to the question …) is:" with nothing after it."""
_TRAILING_CITES = re.compile(r"([.!?…])((?:\s*\[\d+\])+)\s*$")
_COUNT = re.compile(r"\(\d+\)")
"""How many people gave an answer, as a source's row writes it."""
_MARKER = re.compile(r"\[(\d{1,3}(?:[ \t]*[,;–-][ \t]*\d{1,3})*)\]")
_CLOSERS = "\"'”’»)]』」"
_PLACEHOLDER = "\ue000{}\ue001"
_PROTECTED = re.compile("\ue000(.)\ue001")


@dataclass(frozen=True)
class GroundCandidate:
    """One ranked human answer the model was shown."""

    text: str
    """The answer as the evidence gives it (in the asked language where it has it)."""
    english: str
    """Its English wording (a reply in English names it so)."""
    culture: str
    """Whose people gave it."""
    lead: bool
    """It leads its culture's ranking: the evidence's `confidence` is about it."""
    confidence: float | None
    """The evidence's calibrated confidence when `lead`, else None (no other is calibrated)."""
    cites: tuple[int, ...]
    """Its sources' numbers."""


@dataclass(frozen=True)
class Grounding:
    """The numbered context one persona (or one culture's reply) is given."""

    lines: list[str]
    """The prompt's evidence, one numbered source per line, then the ranked answers."""
    numbers: dict[int, str]
    """Number → the source's ref: the only numbers the reply may cite."""
    candidates: list[GroundCandidate]
    """The ranked answers shown, best first, first culture first."""
    covered: bool
    """Some culture's people answered this question or a related one (usable evidence)."""


def _label(source: Source, names: dict[str, str]) -> str:
    culture = source.get("culture") or ""
    name = names.get(culture, culture)
    if source["kind"] == "web":
        return "web page"
    if source["ref"].startswith("blend:"):
        return f"{name}, people's answers (how many gave each)" if name else "people's answers"
    return f"{name}, notes" if name else "notes"


def grounding(
    records: Sequence[EvidenceRecord],
    sources: Sequence[Source],
    cultures: Sequence[str],
    names: dict[str, str] | None = None,
) -> Grounding:
    """The numbered context for `cultures` (empty: every culture): their usable evidence, each
    ranked answer with its sources' numbers, and the passages of no culture or of theirs (web
    pages, notes), at most `MAX_CONTEXT_SOURCES` sources. `names`: culture id → its name."""
    names = names or {}
    wanted = set(cultures)
    mine = [r for r in records if r["usable"] and (not wanted or r["culture"] in wanted)]
    position = {s["ref"]: i for i, s in enumerate(sources, start=1)}
    cited_first: list[int] = []
    for record in mine:
        for c in record["candidates"][:MAX_RANKED]:
            cited_first += [position[r] for r in c.get("refs", []) if r in position]
    others = [
        i
        for i, s in enumerate(sources, start=1)
        if not wanted or not s.get("culture") or s.get("culture") in wanted
    ]
    chosen = list(dict.fromkeys([*cited_first, *others]))[:MAX_CONTEXT_SOURCES]
    numbers = {n: sources[n - 1]["ref"] for n in sorted(chosen)}
    lines = []
    for n in sorted(chosen):
        s = sources[n - 1]
        snippet = " ".join(str(s["snippet"]).split())[:MAX_SNIPPET_CHARS]
        lines.append(f"[{n}] {_label(s, names)}: {snippet}")
    candidates: list[GroundCandidate] = []
    for record in mine:
        shown = []
        for k, c in enumerate(record["candidates"][:MAX_RANKED]):
            cites = tuple(sorted({position[r] for r in c.get("refs", []) if r in numbers.values()
                                  and r in position}))  # fmt: skip
            lead = k == 0
            candidates.append(
                GroundCandidate(
                    str(c["text"]),
                    str(c.get("english") or c["text"]),
                    record["culture"],
                    lead,
                    record.get("confidence") if lead else None,
                    cites,
                )
            )
            marks = "".join(f"[{i}]" for i in cites)
            shown.append(f"{c['text']} {marks}".strip())
        if shown:
            name = names.get(record["culture"], record["culture"])
            how = (
                "people there were asked this very question"
                if record.get("wording") == "answer"
                else "people there answered related questions, not this one"
            )
            lines.append(f"Answers ranked for this question, {name} ({how}): {'; '.join(shown)}")
    return Grounding(lines, numbers, candidates, bool(mine))


def _expand(group: str) -> list[int]:
    """`1, 3` → [1, 3]; `2-4` → [2, 3, 4] (a range of at most 10 numbers)."""
    out: list[int] = []
    for part in re.split(r"[ \t]*[,;][ \t]*", group.strip()):
        ends = re.split(r"[ \t]*[–-][ \t]*", part)
        if len(ends) == 2 and ends[0].isdigit() and ends[1].isdigit():
            lo, hi = int(ends[0]), int(ends[1])
            if lo <= hi < lo + 10:
                out += list(range(lo, hi + 1))
        elif part.isdigit():
            out.append(int(part))
    return out


@dataclass
class CitationGate:
    """A generated reply released sentence by sentence, each sentence's citations checked
    against `numbers` (see the module docstring). `feed` and `finish` return the newly released
    text; `text` is all of it."""

    numbers: Collection[int]
    """The numbers the model may cite."""
    copied: Sequence[str] = ()
    """The texts the model was shown (its sources, the question): a sentence that copies one is
    not released."""
    text: str = ""
    """Everything released so far."""
    cited: list[int] = field(default_factory=list)
    """Numbers the released text cites, in order of first citation."""
    dropped: list[int] = field(default_factory=list)
    """Numbers cited that the context did not list (taken out)."""
    stopped: bool = False
    """True once the reply looped or said a sentence again: later text is ignored."""
    _raw: str = ""
    _pos: int = 0
    _said: set[tuple[str, ...]] = field(default_factory=set)
    _newline: bool = False
    _copy_words: list[set[str]] | None = None

    def feed(self, piece: str) -> str:
        if self.stopped:
            return ""
        self._raw += strip_broken(piece)
        return self._release(final=False)

    def finish(self) -> str:
        if self.stopped:
            return ""
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        out = ""
        while not self.stopped:
            end = _sentence_end(self._raw, self._pos, final)
            if end is None:
                break
            unit = self._raw[self._pos : end]
            last = end == len(self._raw) and final
            self._pos = end
            if last and not _complete(unit):
                # An unfinished last sentence (a token cap, a cut stream): dropped, unless the
                # reply has nothing else, then it ends with a full stop.
                if self.text.strip() or len(unit.split()) < 2:
                    break
                unit = end_at_sentence(unit)
            out += self._take(unit)
        return out

    def _take(self, unit: str) -> str:
        body = unit.strip()
        # A line break is kept between sentences, never at the end (what a stream shows must
        # stay a prefix of the finished reply, which ends with its last sentence).
        breaks = "\n" in unit[: len(unit) - len(unit.lstrip())] or (not body and "\n" in unit)
        self._newline = self._newline or (bool(self.text) and breaks)
        if not body:
            return ""
        checked = self._check(body)
        if not checked:
            self._newline = self._newline or (bool(self.text) and unit.endswith("\n"))
            return ""
        said = tuple(tokens(_MARKER.sub(" ", checked)))
        if (said and said in self._said) or loop_start(f"{self.text} {checked}") is not None:
            self.stopped = True
            return ""
        self._said.add(said)
        lead = ("\n" if self._newline else " ") if self.text else ""
        self._newline = unit.endswith("\n")
        return self._emit(lead + checked)

    def _check(self, sentence: str) -> str:
        """The sentence with its citations checked and other markup taken out."""
        kept: list[int] = []

        def protect(m: re.Match[str]) -> str:
            good = []
            for n in _expand(m.group(1)):
                if n in self.numbers:
                    good.append(n)
                elif n not in self.dropped:
                    self.dropped.append(n)
            kept.extend(good)
            return "".join(_PLACEHOLDER.format(chr(0xE100 + n)) for n in dict.fromkeys(good))

        if self._copies(sentence):
            return ""
        protected = _MARKER.sub(protect, sentence)
        clean = strip_markup(protected)
        clean = _PROTECTED.sub(lambda m: f"[{ord(m.group(1)) - 0xE100}]", clean)
        clean = re.sub(r"[ \t]+(?=[.,;:!?])", "", " ".join(clean.split(" "))).strip()
        clean = re.sub(r"[ \t]{2,}", " ", clean)
        bare = _MARKER.sub("", clean)
        if not re.search(r"\w", bare) or _LEAD_IN_ONLY.fullmatch(bare):
            return ""  # only markers, markup or "The answer is:": nothing to read
        # Citations after the full stop go before it, as an evidence reply writes them.
        clean = _TRAILING_CITES.sub(lambda m: f" {m.group(2).strip()}{m.group(1)}", clean)
        for n in kept:
            if n not in self.cited:
                self.cited.append(n)
        return clean

    def _emit(self, piece: str) -> str:
        self.text += piece
        return piece

    def _copies(self, sentence: str) -> bool:
        """The sentence is the prompt said back: its phrases, or one source's words."""
        low = sentence.lower()
        if any(phrase in low for phrase in PROMPT_PHRASES):
            return True
        if _MARKER.match(sentence.lstrip()) or len(_COUNT.findall(sentence)) >= 2:
            return True  # a numbered source line, or its answers with their counts, copied
        if _COUNT.search(sentence):  # "— congratulatory money (5);": a source's row, copied
            piece = " ".join(_MARKER.sub(" ", low).split()).strip(" ;,.")
            if any(piece in " ".join(text.lower().split()) for text in self.copied):
                return True
        said = [t for t in tokens(_MARKER.sub(" ", sentence)) if t.isalpha()]
        if len(said) < COPY_MIN_WORDS:
            return False
        if self._copy_words is None:
            self._copy_words = [set(tokens(text)) for text in self.copied]
        return any(
            sum(t in words for t in said) >= COPY_SHARE * len(said) for words in self._copy_words
        )


def _complete(unit: str) -> bool:
    """The unit ends a sentence or a line (citations after its full stop allowed)."""
    body = _MARKER.sub("", unit).rstrip(" \t").rstrip(_CLOSERS)
    return unit.endswith("\n") or (bool(body) and body[-1] in SENTENCE_END)


def _sentence_end(text: str, start: int, final: bool) -> int | None:
    """Where the unit starting at `start` certainly ends: after a line break, or after a
    sentence end, its closing quotes and any citations that follow it, once whitespace and
    something else follow; at the text's end when `final`. None while it cannot tell yet."""
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "\n":
            return i + 1
        if ch in SENTENCE_END and not _abbreviation(text, i):
            j = i + 1
            while j < len(text) and text[j] in _CLOSERS:
                j += 1
            while True:  # citations after the full stop belong to this sentence
                m = _MARKER.match(text, _skip_space(text, j))
                if m is None:
                    break
                j = m.end()
            k = _skip_space(text, j)
            if k == len(text):
                return len(text) if final else None
            if not final and re.fullmatch(r"\[[\d ,;–-]*", text[k:]):
                return None  # a `[` that may yet become a citation of this sentence
            if k > j or text[k] == "\n" or ch in "。！？":
                return j
        i += 1
    return len(text) if final and start < len(text) else None


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _abbreviation(text: str, dot: int) -> bool:
    """`e.g.`, `Mr.`, a decimal point: a full stop that does not end a sentence."""
    if text[dot] != ".":
        return False
    before = text[:dot].split()[-1:] or [""]
    after = text[dot + 1 : dot + 2]
    return after.isdigit() or (len(before[0]) <= 2 and after.isalpha())


@dataclass(frozen=True)
class Lead:
    """What a generated reply leads with, checked against the evidence."""

    short: str
    """The answer it leads with (a few words); empty when it has none."""
    answers: list[str]
    """The lead and the other evidence answers it names (at most three)."""
    confidence: float | None
    """The evidence's confidence in the lead when the lead is the evidence's own lead."""
    candidate: GroundCandidate | None
    """The evidence answer the lead is, if it is one."""


def _mentions(text: str, candidate: GroundCandidate) -> int | None:
    """Word offset where the text names the candidate (either wording), or None."""
    said = tokens(text)
    for wording in (candidate.text, candidate.english):
        want = tokens(wording)
        if want and contains_phrase(said, want):
            n = len(want)
            return next(i for i in range(len(said) - n + 1) if said[i : i + n] == want)
        plain = " ".join(want)
        if want and not plain.isascii() and plain in " ".join(said):
            return 0
    return None


def _positions(text: str, candidates: Sequence[GroundCandidate]) -> list[tuple[int, int]]:
    """(candidate index, word offset) of every candidate the text names."""
    out = []
    for k, c in enumerate(candidates):
        pos = _mentions(text, c)
        if pos is not None:
            out.append((k, pos))
    return out


def first_sentence(text: str) -> str:
    """The reply's first sentence (of its first line), citations taken out."""
    line = _MARKER.sub("", text.strip().split("\n", 1)[0])
    for i, ch in enumerate(line):
        if ch in SENTENCE_END and not _abbreviation(line, i):
            return line[: i + 1].strip()
    return line.strip()


def lead_of(text: str, request: str, candidates: Sequence[GroundCandidate]) -> Lead:
    """The answer a generated reply leads with. A fact reply leads with the evidence answer its
    first sentence names (the earliest named), else with its first words; another request leads
    with the first evidence answer the reply names, else with none."""
    plain = _MARKER.sub("", text)
    first = first_sentence(text)
    scope = first if request == "fact" else plain
    named = sorted((pos, k) for k, pos in _positions(scope, candidates))
    also = [
        candidates[k].text for _, k in sorted((pos, k) for k, pos in _positions(plain, candidates))
    ]
    if named:
        chosen = candidates[named[0][1]]
        answers = list(dict.fromkeys([chosen.text, *also]))[:3]
        return Lead(chosen.text, answers, chosen.confidence, chosen)
    if request != "fact" or not first:
        return Lead("", list(dict.fromkeys(also))[:3], None, None)
    short = short_answer(first)
    return Lead(short, list(dict.fromkeys([short, *also]))[:3], None, None)


_COPULA = re.compile(r"\s(?:is|are|was|were)\s*:?\s+", re.I)


def short_answer(sentence: str) -> str:
    """The few words a fact reply's first sentence answers with: what follows its verb "is"
    ("The usual gift is money." → "money"; "The answer is: money" → "money"), else its first
    clause; at most `SHORT_WORDS` words, without counts copied from the evidence."""
    text = _COUNT.sub("", sentence).strip()
    found = list(_COPULA.finditer(text))
    if found and found[-1].end() < len(text):
        text = text[found[-1].end() :]
    words = re.split(r"[,;:—–]|\s-\s", text, maxsplit=1)[0].split()[:SHORT_WORDS]
    return " ".join(words).strip().rstrip("".join(SENTENCE_END) + " ")
