"""Is the closest bank question the asked question itself? The rule that decides how a reply is
worded (`answer` / `related`).

A bank question *is* the asked one when it is the same question in other words or in another
language. Similarity alone cannot tell: the bank is full of near twins that people answer
differently ("when do people start work" / "finish work", "drinks on hot days" / "on cold
days"), which are more alike on the surface than a real paraphrase ("Which seasoning can no
kitchen do without?"). So the rule looks at the similarities *and* at what the words leave out:
the share of the bank question's content (its words weighted by how rare they are among the
culture's questions) that the asked question does not contain, and the reverse, and how far the
runner-up question trails.

The rule itself (`manyshores.evidence.wording.MatchRule`) is learnt from question pairs of the
bank (`manyshores.evidence.fit_wording`); this module computes what it reads.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from manyshores.evidence.metric import project
from manyshores.evidence.similarity import strip_local_names, strip_names

if TYPE_CHECKING:
    from manyshores.evidence.culture_questions import CultureEvidence
    from manyshores.evidence.multilingual import MultilingualVectors

MATCH_FEATURES = (
    "sim",
    "gap",
    "cosine",
    "chars",
    "type",
    "missing",
    "added",
    "clash",
    "lost",
    "e5",
    "exact",
)
"""The rule's inputs, for the closest bank question:
- `sim`: its similarity (what the neighbours are ranked by: the question metric, mixed with
  character n-grams for a local-language question);
- `gap`: how far the runner-up trails it on `sim`;
- `cosine`: plain MiniLM cosine of the two questions (no learnt metric: the metric pulls
  together questions people *answer* alike, not questions that *are* alike);
- `chars`: character n-gram TF-IDF cosine in the language matched;
- `type`: agreement of the kind of answer each takes (the answer-type map);
- `missing`: rarity-weighted share of the bank question's words absent from the asked one;
- `added`: the same share of the asked question's words absent from the bank question;
- `clash`: how many sets of alternatives (`CONTRASTS`: breakfast / lunch / dinner, men / women,
  start / finish…) have one member in the bank question and another in the asked one;
- `lost`: members of such sets in the bank question that the asked one does not contain (a
  local-language question: whose known renderings it does not contain);
- `e5`: for a local-language question, the multilingual encoder's cosine of the two questions
  (it reads a paraphrase in any of the bank's languages; 0 for English questions, which MiniLM
  reads);
- `exact`: min(`chars`, `e5`)^8 for a local-language question, `chars`^8 for English: close to 1
  only for the bank question asked word for word (a linear rule cannot otherwise reward
  identical wording while distrusting the merely similar).
"""

GROUPS = ("en", "local")
"""Language groups with a rule (and a calibration) of their own."""

_WORD = re.compile(r"[\w']+", re.UNICODE)
_UNSPACED = ("zh", "ja")
"""Languages written without spaces between words: character bigrams stand in for words."""

ENGLISH_STOP = frozenset(
    """a an the of in on at to for from by with and or is are was were be been do does did what
    which who whom whose when where why how most more many much usually typically commonly
    common often people person during than that this these those their there they it its as
    into about some any you your i my me we our us can could would should will may might
    has have had provide format e g eg year years one ones eat eats eaten ate consume consumed
    consumption held hold holds take takes taken place no not like best""".split()  # noqa: SIM905
)
"""English function words that carry no content for the comparison (a paraphrase is free to
drop them)."""


SAME = {
    "kid": "child", "kids": "child", "children": "child", "youngster": "child",
    "youngsters": "child", "mom": "mother", "mum": "mother", "mothers": "mother",
    "dad": "father", "fathers": "father", "begin": "start", "begins": "start",
    "beginning": "start", "starts": "start", "end": "finish", "ends": "finish",
    "finishes": "finish", "soccer": "football", "autumn": "fall", "supper": "dinner",
    "men": "man", "guys": "man", "women": "woman", "ladies": "woman", "boys": "boy",
    "girls": "girl", "seniors": "elderly", "favourite": "popular", "favorite": "popular",
    "loved": "popular", "liked": "popular", "well-liked": "popular", "typical": "usual",
    "normally": "usually", "generally": "usually", "weddings": "wedding", "marriage": "wedding",
    "funerals": "funeral", "served": "offer", "offered": "offer", "serve": "offer",
    "club": "team", "clubs": "team", "teams": "team", "kitchen": "cook", "cooking": "cook",
    "cuisine": "cook", "dish": "food", "dishes": "food", "meal": "food", "meals": "food",
}  # fmt: skip
"""English words read as one (a paraphrase may use either)."""

CONTRASTS = (
    "breakfast lunch dinner snack dessert brunch",
    "morning afternoon evening night noon midnight",
    "weekday weekend",
    "spring summer fall winter",
    "hot cold warm rainy snowy sunny",
    "man woman male female boy girl mother father bride groom husband wife son daughter "
    "grandmother grandfather maternal paternal brother sister",
    "child adult elderly teenager student baby toddler preschool teacher parent",
    "start finish open close leave arrive graduate",
    "wedding funeral birthday graduation engagement birth divorce retirement anniversary",
    "christmas easter ramadan eid thanksgiving halloween valentine nowruz yalda chuseok diwali "
    "hanukkah",
    "play watch",
    "indoor outdoor",
    "home school work office restaurant street beach city village rural urban",
    "public private",
    "traditional modern",
    "hours minutes days weeks months",
    "tea coffee beer wine juice water milk",
    "fruit vegetable meat fish",
    "football basketball volleyball tennis badminton baseball cricket wrestling hockey rugby",
    "least worst biggest smallest first last highest lowest cheapest expensive",
    "family friend colleague neighbour",
    "buy sell",
)
"""Sets of alternatives that make near-identical questions different ones ("What do people eat
for breakfast?" is not "… for dinner?"): the bank's twin questions differ in such a word."""


def group_of(language: str) -> str:
    """`en` or `local`."""
    return "en" if language == "en" else "local"


def _stem(word: str, language: str) -> str:
    if language == "en":
        for suffix in ("ings", "ing", "ied", "ies", "ed", "es", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
        return word[:6]
    # Local scripts: a prefix stands in for a stem (suffixes, particles and case endings
    # follow the root in most of the bank's languages).
    return word[: max(2, min(len(word), 5))]


def content_words(text: str, language: str) -> list[str]:
    """Stems of the words of `text` that carry content (character bigrams for Chinese and
    Japanese; English synonyms of `SAME` read as one)."""
    norm = unicodedata.normalize("NFKC", text).lower()
    if language in _UNSPACED:
        chars = [c for c in norm if c.isalnum()]
        return [a + b for a, b in zip(chars, chars[1:], strict=False)]
    words = _WORD.findall(norm)
    if language == "en":
        words = [SAME.get(w, w) for w in words]
        words = [w for w in words if w not in ENGLISH_STOP and not w.isdigit()]
    return [_stem(w, language) for w in words if len(w) > 1 or not w.isascii()]


@dataclass
class WordWeights:
    """How rare each word stem is among a set of questions (inverse document frequency)."""

    idf: dict[str, float]
    """Stem → log((n + 1) / (questions containing it + 1)) + 1."""
    unseen: float
    """The weight of a stem no question contains."""

    @classmethod
    def fit(cls, texts: Sequence[str], language: str) -> WordWeights:
        df: Counter[str] = Counter()
        for t in texts:
            df.update(set(content_words(t, language)))
        n = len(texts)
        idf = {w: math.log((n + 1) / (d + 1)) + 1.0 for w, d in df.items()}
        return cls(idf, math.log(n + 1) + 1.0)

    def weight(self, word: str) -> float:
        return self.idf.get(word, self.unseen)


@functools.lru_cache(maxsize=1)
def _contrast_sets() -> tuple[frozenset[str], ...]:
    return tuple(frozenset(_stem(SAME.get(w, w), "en") for w in line.split()) for line in CONTRASTS)


def clashes(asked: Sequence[str], bank: Sequence[str]) -> int:
    """Sets of alternatives with one member only in `bank` and another only in `asked`."""
    only_bank, only_asked = set(bank) - set(asked), set(asked) - set(bank)
    return sum(bool(s & only_bank) and bool(s & only_asked) for s in _contrast_sets())


@dataclass
class ContrastLexicon:
    """For one culture: the local word stems that render each English member of `CONTRASTS`,
    learnt from its question pairs (local and English wording of the same question), so that
    local-language twins ("에서 더울 때" / "추울 때") clash as English ones do."""

    renders: dict[str, frozenset[str]]
    """Local stem → the English contrast stems it renders."""

    @classmethod
    def fit(
        cls, pairs: Sequence[tuple[Sequence[str], Sequence[str]]], min_dice: float = 0.5
    ) -> ContrastLexicon:
        """`pairs`: (local stems, English stems) of each question. A local stem renders an
        English one when they occur in the same questions (Dice ≥ `min_dice`, at least two)."""
        members = frozenset().union(*_contrast_sets())
        n_en: Counter[str] = Counter()
        n_local: Counter[str] = Counter()
        both: Counter[tuple[str, str]] = Counter()
        for local, english in pairs:
            loc = set(local)
            en = set(english) & members
            n_local.update(loc)
            n_en.update(en)
            both.update((w, x) for w in loc for x in en)
        renders: dict[str, set[str]] = {}
        for (w, x), n in both.items():
            if (
                n >= 2
                and not any(c.isdigit() for c in w)
                and 2 * n / (n_en[x] + n_local[w]) >= min_dice
            ):
                renders.setdefault(w, set()).add(x)
        return cls({w: frozenset(xs) for w, xs in renders.items()})

    def rendered(self) -> set[str]:
        """English contrast stems with a known local rendering."""
        return {x for xs in self.renders.values() for x in xs}

    def english(self, local: Collection[str]) -> set[str]:
        """The English contrast stems that local stems render."""
        return {x for w in local for x in self.renders.get(w, ())}


def local_clashes(
    asked: Sequence[str], bank: Sequence[str], bank_english: Sequence[str], lexicon: ContrastLexicon
) -> int:
    """`clashes` for a local-language question: its contrast words read through `lexicon`;
    the bank question's from its English wording, less those the asked question renders."""
    asked_en = lexicon.english(set(asked) - set(bank))
    shared = lexicon.english(set(asked) & set(bank))
    bank_en = (set(bank_english) - shared - lexicon.english(asked)) & frozenset().union(
        *_contrast_sets()
    )
    return sum(bool(s & bank_en) and bool(s & (asked_en - shared)) for s in _contrast_sets())


def lost_contrasts(
    asked: Sequence[str], bank_english: Sequence[str], lexicon: ContrastLexicon | None = None
) -> int:
    """Contrast words of the bank question (its English stems) the asked question lacks:
    itself (English, `lexicon` None) or any known rendering of them (through `lexicon`)."""
    members = frozenset().union(*_contrast_sets())
    wanted = set(bank_english) & members
    if lexicon is None:
        return len(wanted - set(asked))
    return len((wanted & lexicon.rendered()) - lexicon.english(asked))


def uncovered(source: Sequence[str], other: Sequence[str], weights: WordWeights) -> float:
    """Rarity-weighted share of `source`'s words not in `other` (0 when it has none)."""
    if not source:
        return 0.0
    have = set(other)
    total = sum(weights.weight(w) for w in source)
    return sum(weights.weight(w) for w in source if w not in have) / max(total, 1e-9)


def match_features(
    sims: np.ndarray,
    order: Sequence[int],
    cosine: float,
    chars: float,
    type_agreement: float,
    asked_words: Sequence[str],
    bank_words: Sequence[str],
    weights: WordWeights,
    clash: int,
    lost: int,
    e5: float | None = None,
) -> np.ndarray:
    """One row of `MATCH_FEATURES` for the closest question `order[0]` (`order`: the culture's
    questions by falling `sims`, excluded ones already left out)."""
    s1 = float(sims[order[0]])
    s2 = float(sims[order[1]]) if len(order) > 1 else 0.0
    return np.asarray(
        [
            s1,
            s1 - s2,
            cosine,
            chars,
            type_agreement,
            uncovered(bank_words, asked_words, weights),
            uncovered(asked_words, bank_words, weights),
            float(clash),
            float(lost),
            e5 or 0.0,
            min(chars, e5 if e5 is not None else chars) ** 8,
        ],
        dtype=np.float64,
    )


class QuestionMatcher:
    """Computes `MATCH_FEATURES` for a question and a culture's closest bank question, keeping
    what each culture needs (word weights, its contrast lexicon) once built. Thread-safe."""

    def __init__(self, answer_map: np.ndarray | None = None) -> None:
        self.answer_map = answer_map
        """The bank's answer-type map (`type`)."""
        self._weights: dict[tuple[str, str], WordWeights] = {}
        self._lexicons: dict[str, ContrastLexicon] = {}
        self._names: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def _names_of(self, culture: str, ce: CultureEvidence) -> list[str]:
        with self._lock:
            found = self._names.get(culture)
        if found is None:
            # "Americans", "Indonesians": a plural demonym names the culture as much as "American".
            found = sorted({*ce.names, *(n + "s" for n in ce.names if n[:1].isupper())})
            with self._lock:
                self._names[culture] = found
        return found

    def _english(self, text: str, names: Sequence[str]) -> list[str]:
        return content_words(strip_names(text, names), "en")

    def _local(self, text: str, names: Sequence[str], language: str) -> list[str]:
        return content_words(strip_local_names(text, names), language)

    def _culture_tables(
        self, culture: str, ce: CultureEvidence, language: str
    ) -> tuple[WordWeights, ContrastLexicon | None]:
        names = self._names_of(culture, ce)
        key = (culture, language)
        with self._lock:
            weights = self._weights.get(key)
            lexicon = self._lexicons.get(culture)
        if weights is None:
            if language == "en":
                texts = [strip_names(q.en_question, names) for q in ce.questions]
            else:
                texts = [strip_local_names(q.question, names) for q in ce.questions]
            weights = WordWeights.fit(texts, language)
            with self._lock:
                self._weights[key] = weights
        if language != "en" and lexicon is None:
            lexicon = ContrastLexicon.fit(
                [
                    (
                        self._local(q.question, names, language),
                        self._english(q.en_question, names),
                    )
                    for q in ce.questions
                ]
            )
            with self._lock:
                self._lexicons[culture] = lexicon
        return weights, lexicon

    def row(
        self,
        ce: CultureEvidence,
        culture: str,
        question: str,
        language: str,
        sims: np.ndarray,
        exclude_ids: Collection[str],
        vector: np.ndarray,
        e5: MultilingualVectors | None,
    ) -> np.ndarray:
        """`features` against the culture's closest question that is not excluded."""
        excluded = set(exclude_ids)
        ranked = np.argsort(-sims, kind="stable").tolist()
        order = [i for i in ranked if ce.questions[i].id not in excluded][:2]
        return self.features(
            ce, culture, question, language, sims, order, vector, self.answer_map, e5
        )

    def features(
        self,
        ce: CultureEvidence,
        culture: str,
        question: str,
        language: str,
        sims: np.ndarray,
        order: Sequence[int],
        vector: np.ndarray,
        answer_map: np.ndarray | None,
        e5: MultilingualVectors | None = None,
    ) -> np.ndarray:
        """The `MATCH_FEATURES` row of `question` (matched in `language`, `en` or the culture's
        own) against the closest question `order[0]` of the culture's questions."""
        best = ce.questions[order[0]]
        names = self._names_of(culture, ce)
        weights, lexicon = self._culture_tables(culture, ce, language)
        has_vector = len(vector) > 0
        cosine = float(ce.vectors[order[0]] @ vector) if has_vector else 0.0
        if has_vector:
            kinds = project(np.stack([vector, ce.vectors[order[0]]]), answer_map)
            type_agreement = float(kinds[0] @ kinds[1])
        else:
            type_agreement = 0.0
        bank_english = self._english(best.en_question, names)
        e5_cosine: float | None = None
        if language == "en":
            asked = self._english(question, names)
            bank = bank_english
            chars = float(ce.english.query(strip_names(question, names))[order[0]])
            clash, lost = clashes(asked, bank), lost_contrasts(asked, bank)
        else:
            asked = self._local(question, names, language)
            bank = self._local(best.question, names, language)
            chars = float(ce.local.query(strip_local_names(question, ce.names))[order[0]])
            assert lexicon is not None
            clash = local_clashes(asked, bank, bank_english, lexicon)
            lost = lost_contrasts(asked, bank_english, lexicon)
            if e5 is not None:
                a, b = (
                    strip_local_names(question, ce.names),
                    strip_local_names(best.question, ce.names),
                )
                found = e5.get([a, b])
                e5_cosine = float(np.asarray(found[a]) @ np.asarray(found[b]))
        return match_features(
            sims, order, cosine, chars, type_agreement, asked, bank, weights, clash, lost,
            e5_cosine,
        )  # fmt: skip
