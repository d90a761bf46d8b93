"""Offline language identification: script rules, then py3langid, then word lists.

Why py3langid: its model ships in the wheel (no download), it loads in about a second, classifies
a sentence in about 0.1 ms, and its 0.4 model covers Hausa, Amharic, Assamese, Azerbaijani and
Persian. On the BLEnD local-language questions it was right for every language it knows; it
lacks Sundanese (it answers `jv` or `id`). lingua-language-detector was also tried: it needs
about 24 s and ~1 GB to preload its models, takes ~2.5 ms a sentence, and lacks Amharic,
Assamese, Hausa and Sundanese (so it got those 0/4 on BLEnD), so py3langid wins on every count.

What py3langid gets wrong is settled before or after it:

- scripts that belong to one language decide directly (Hangul → `ko`, Ethiopic → `am`, Greek →
  `el`, Kana → `ja`, Han without Kana → `zh`);
- within a script shared by several languages, py3langid's ranking is restricted to the
  languages written in it (Bengali script: `as` when the Assamese-only letters ৰ/ৱ appear);
- Sundanese is told apart from Indonesian and Javanese with function-word lists.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from manyshores.cultures import base_language
from manyshores.detection.scripts import ASSAMESE_LETTERS, SCRIPT_LANGUAGE, dominant_script

log = logging.getLogger(__name__)

_SCRIPT_CANDIDATES: dict[str, frozenset[str]] = {
    "Arabic": frozenset({"ar", "ary", "arz", "fa", "ur", "ps", "ku", "sdh", "ug"}),
    "Bengali": frozenset({"bn", "as"}),
    "Devanagari": frozenset({"hi", "mr", "ne", "sa", "gom"}),
    "Cyrillic": frozenset(
        {"ru", "uk", "bg", "be", "sr", "mk", "kk", "ky", "mn", "tg", "tt", "ba", "crh"}
    ),  # fmt: skip
}
"""Languages py3langid may answer for text in a script shared by several languages."""

_NON_LATIN = frozenset(
    {"ar", "ary", "arz", "fa", "ur", "ps", "ug", "sdh", "bn", "as", "hi", "mr", "ne", "sa", "gom",
     "ru", "uk", "bg", "be", "mk", "kk", "ky", "mn", "tg", "tt", "ba", "zh", "wuu", "yue", "ja",
     "ko", "el", "grc", "he", "hbo", "am", "ka", "hy", "th", "lo", "km", "my", "si", "ta", "te",
     "kn", "ml", "gu", "pa", "or", "dz"}
)  # fmt: skip

# Function words and frequent words of Sundanese, Javanese and Indonesian/Malay that the other
# two do not use (py3langid has no Sundanese model and calls it Javanese or Indonesian).
_SUNDANESE = frozenset(
    [
        "naon",
        "nu",
        "anu",
        "téh",
        "teh",
        "jeung",
        "kana",
        "dina",
        "pikeun",
        "keur",
        "kuring",
        "abdi",
        "henteu",
        "teu",
        "moal",
        "sabaraha",
        "iraha",
        "saha",
        "kumaha",
        "naha",
        "mah",
        "ogé",
        "oge",
        "tina",
        "manéh",
        "maneh",
        "nyaéta",
        "nyaeta",
        "biasana",
        "kudu",
        "lamun",
        "barudak",
        "jalma",
        "geus",
        "acan",
        "atawa",
        "sareng",
        "ngeunaan",
        "loba",
        "réa",
        "rea",
        "pisan",
        "kacida",
        "mangrupa",
        "dimana",
        "waé",
        "ayeuna",
        "isuk",
        "peuting",
        "beurang",
        "dahar",
        "kadaharan",
        "inuman",
        "imah",
        "sakola",
        "gawé",
        "jelema",
        "dulur",
        "kolot",
        "lalaki",
        "awéwé",
        "awewe",
        "umumna",
        "pang",
        "leuwih",
        "kitu",
        "kieu",
        "ieu",
        "éta",
        "dupi",
        "mangga",
        "hatur",
        "nuhun",
        "badé",
        "tos",
        "parantos",
        "teuing",
        "kungsi",
        "sok",
        "dipaké",
        "dipake",
        "kaayaan",
        "salila",
        "sabab",
        "ngan",
        "bisa",
        "naékna",
        "jalmi",
        "nyaéta",
        "dianggo",
        "pangpopulerna",
        "pangpopulérna",
        "populérna",
        "wanoja",
        "pameget",
        "murangkalih",
        "ngarayakeun",
        "dinten",
    ]
)
_JAVANESE = frozenset(
    [
        "opo",
        "sing",
        "karo",
        "ing",
        "iku",
        "kuwi",
        "ora",
        "wis",
        "sampun",
        "menika",
        "punika",
        "lan",
        "kanggo",
        "wong",
        "kang",
        "ana",
        "ono",
        "piye",
        "endi",
        "sopo",
        "pinten",
        "biasane",
        "bocah",
        "omah",
        "mangan",
        "panganan",
        "neng",
        "nang",
        "uga",
        "saka",
        "dening",
        "ingkang",
        "kados",
        "mawon",
        "dina",
        "niki",
        "nggih",
        "boten",
        "wonten",
        "saged",
        "kathah",
        "sanget",
        "dipun",
        "badhe",
    ]
)
_INDONESIAN = frozenset(
    [
        "yang",
        "dan",
        "untuk",
        "dengan",
        "adalah",
        "ini",
        "itu",
        "tidak",
        "biasanya",
        "bagaimana",
        "berapa",
        "kapan",
        "siapa",
        "makanan",
        "sekolah",
        "anak",
        "pada",
        "dari",
        "akan",
        "sudah",
        "atau",
        "juga",
        "saat",
        "dalam",
        "tersebut",
        "seperti",
        "banyak",
        "lebih",
        "apa",
        "orang",
        "paling",
        "umum",
        "hari",
        "mereka",
        "kami",
        "kita",
        "sering",
        "bahwa",
        "ketika",
        "karena",
    ]
)
_MALAY_FAMILY = frozenset({"jv", "id", "ms", "su", "ace", "ban", "min", "bjn", "mad", "tl", "bcl"})

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


@dataclass(frozen=True)
class LanguageGuess:
    """The language a text is written in."""

    lang: str
    """ISO 639-1 (or 639-3 when there is none) base code, e.g. `su`."""
    confidence: float
    """0..1: how sure the identifier is (already discounted for very short texts)."""
    script: str | None
    """Dominant writing system (`Latin`, `Hangul`, ...)."""
    method: str
    """`script`, `langid` or `wordlist`: which rule decided."""


_model_lock = threading.Lock()
_model_cache: list[Any] = []


def _shared_model() -> Any:
    """The py3langid model, loaded once per process (it is read-only once built)."""
    with _model_lock:
        if not _model_cache:
            _model_cache.append(_load_model())
        return _model_cache[0]


def _load_model() -> Any:
    """py3langid's shipped model, its arrays read back from the home directory's cache: the
    shipped file is LZMA-compressed (68 MB unpacked), 2.6 s to load at load ~8 against ~1 s
    read back (`docs/speed.md`). Built the way `from_model_file` builds it; any failure of the
    cache falls back to that."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE
    from py3langid.langid import LanguageIdentifier as _LangId

    try:
        from importlib.metadata import version

        from py3langid.modelio import load_model

        from manyshores.startup_cache import cached_pickle

        path = MODEL_DIR / MODEL_FILE
        stat = path.stat()
        key = hashlib.sha256(
            f"py3langid {version('py3langid')} {stat.st_size} {stat.st_mtime_ns}".encode()
        ).hexdigest()[:20]
        ptc, pc, classes, nextmove, row, output = cached_pickle(
            "py3langid", key, lambda: load_model(path)
        )
        return _LangId(
            np.asarray(ptc), np.asarray(pc), classes, nextmove, output, norm_probs=True, tk_row=row
        )
    except Exception as exc:
        log.info("py3langid model not read from the cache: %s", exc)
        return _LangId.from_model_file(MODEL_FILE, norm_probs=True)


class LanguageIdentifier:
    """Thread-safe wrapper around py3langid with script rules and word lists (loads lazily)."""

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the py3langid model now (about a second) instead of on first use."""
        with self._lock:
            if self._model is None:
                self._model = _shared_model()

    def _rank(self, text: str) -> list[tuple[str, float]]:
        if self._model is None:
            self.load()
        return [(str(lang), float(p)) for lang, p in self._model.rank(text)]

    def identify(self, text: str) -> LanguageGuess | None:
        """The language of `text`, or None when it has too few letters to tell."""
        letters = [ch for ch in text if ch.isalpha()]
        if len(letters) < 3:
            return None
        # Very short texts are unreliable whatever the model says (`And for dessert?` comes out
        # as Norwegian); a script is clear from a few letters, character n-grams are not.
        script, share = dominant_script(text)
        if script is None:
            return None
        if script == "Latin":
            length_factor = min(1.0, len(letters) / 40) ** 1.5
        else:  # few languages share a non-Latin script: short texts are still telling
            length_factor = min(1.0, 0.5 + len(letters) / 30)
        if script in SCRIPT_LANGUAGE:
            return LanguageGuess(SCRIPT_LANGUAGE[script], min(0.99, share), script, "script")
        if script == "Han":
            return LanguageGuess("zh", min(0.99, share), script, "script")
        if script == "Bengali" and any(ch in ASSAMESE_LETTERS for ch in text):
            return LanguageGuess("as", min(0.99, share), script, "script")
        ranked = self._rank(text)
        allowed = _SCRIPT_CANDIDATES.get(script)
        if allowed is not None:
            ranked = [(lang, p) for lang, p in ranked if lang in allowed]
        elif script == "Latin":
            ranked = [(lang, p) for lang, p in ranked if lang not in _NON_LATIN]
        if not ranked:
            return None
        total = sum(p for _, p in ranked) or 1.0
        lang, p = ranked[0]
        guess = LanguageGuess(base_language(lang), p / total * length_factor, script, "langid")
        if script == "Latin" and lang in _MALAY_FAMILY:
            guess = _malay_family(text, guess, length_factor)
        elif script == "Latin" and guess.confidence < 0.5:
            # An unsure guess outside the family (`rw` for `Kumaha murid-murid SD indit ka
            # sakola?`): two or more Sundanese function words settle it.
            words = [w.lower() for w in _WORD.findall(text)]
            hits = {w for w in words if w in _SUNDANESE}
            if len(hits) >= 2 and len(hits) >= 0.25 * len(words):
                guess = LanguageGuess("su", min(0.9, 0.3 * len(hits)), script, "wordlist")
        return guess


def _malay_family(text: str, guess: LanguageGuess, length_factor: float) -> LanguageGuess:
    """Tell Sundanese from Javanese and Indonesian by counting their own function words."""
    words = [w.lower() for w in _WORD.findall(text)]
    # `eu` (leuwih, teu, ngeunaan) and the suffix -keun are Sundanese hallmarks.
    su = sum(
        w in _SUNDANESE or ("eu" in w and not w.startswith("keu")) or w.endswith("keun")
        for w in words
    )  # (Indonesian has `eu` only after the prefix ke-: keuangan)
    jv = sum(w in _JAVANESE for w in words)
    ind = sum(w in _INDONESIAN for w in words)
    best = max((su, "su"), (jv, "jv"), (ind, "id"))
    if best[0] == 0:
        return guess
    counts = su + jv + ind
    margin = best[0] / counts
    if best[1] == guess.lang and guess.method == "langid":
        return LanguageGuess(guess.lang, max(guess.confidence, margin * length_factor),
                             guess.script, "langid")  # fmt: skip
    conf = margin * min(1.0, 0.5 + 0.25 * best[0]) * length_factor
    return LanguageGuess(best[1], conf, guess.script, "wordlist")
