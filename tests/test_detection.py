"""Culture detection signals, the posterior, and task detection."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from manyshores.config import Settings
from manyshores.cultures import get_registry
from manyshores.detection import CultureDetector, detect_task
from manyshores.detection.language import LanguageIdentifier
from manyshores.detection.mentions import MentionIndex
from manyshores.detection.prebuilt import shared_index
from manyshores.detection.scripts import dominant_script
from manyshores.errors import InvalidInputError
from manyshores.eval.datasets.detect_cases import BLEND_CULTURES

BLEND = list(BLEND_CULTURES)


@pytest.fixture(scope="module")
def index() -> MentionIndex:
    # The full index: names, demonyms and the cues (cities among them).
    return shared_index(get_registry())


@pytest.fixture(scope="module")
def langid() -> LanguageIdentifier:
    li = LanguageIdentifier()
    li.load()
    return li


@pytest.fixture(scope="module")
def detector() -> CultureDetector:
    return CultureDetector(settings=Settings()).load()


def _ids(index: MentionIndex, text: str) -> set[str]:
    return {c for m in index.find(text) for c in m.cultures}


# ---------------------------------------------------------------- mentions
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Azərbaycanda ən populyar meyvə hansıdır?", "AZE"),  # Azerbaijani locative suffix
        ("ما هي الفاكهة الأكثر شعبية بالجزائر؟", "DZA"),  # Arabic clitic ب
        ("한국에서 가장 인기 있는 과일은?", "KOR"),  # Korean particle
        ("在中国最受欢迎的水果是什么？", "CHN"),  # no spaces
        ("অসমত কি ফল সবাতোকৈ জনপ্ৰিয়?", "IN-AS"),  # Assamese case ending
        ("Ποιο είναι το πιο δημοφιλές φρούτο στην Ελλάδα;", "GRC"),
        ("Menene abinci a Arewacin Najeriya?", "NGA"),
        ("Naon buah nu pang populerna di Jawa Barat?", "ID-JB"),
        ("What do Mexicans eat for breakfast?", "MEX"),  # demonym + plural
        ("Is Guwahati expensive?", "IN-AS"),  # city
        ("¿Qué se come en Corea del Sur?", "KOR"),  # CLDR name in Spanish
    ],
)
def test_mentions_in_many_languages(index: MentionIndex, text: str, expected: str) -> None:
    assert expected in _ids(index, text)


def test_mentions_avoid_common_words(index: MentionIndex) -> None:
    assert "TUR" not in _ids(index, "We roast a turkey at Thanksgiving in the US.")
    assert "TUR" in _ids(index, "We flew to Turkey.")
    assert "GHA" not in _ids(index, "학교에 가나요?")  # `가나` (Ghana) inside a verb ending
    assert "IND" not in _ids(index, "Is Indiana Jones popular?")
    assert _ids(index, "What do people eat for breakfast?") == set()


def test_longest_match_and_shared_names(index: MentionIndex) -> None:
    assert _ids(index, "Food in South Korea") == {"KOR"}
    assert _ids(index, "Food in North Korea") == {"PRK"}
    assert _ids(index, "Food in Korea") == {"KOR", "PRK"}


def test_restricted_index_only_knows_its_cultures() -> None:
    small = MentionIndex(get_registry(), ["KOR", "ESP"])
    assert {c for m in small.find("Spain, Korea and Kenya") for c in m.cultures} <= {"KOR", "ESP"}


# ---------------------------------------------------------------- language
@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("অসমৰ বিদ্যালয়ৰ কেফেটেৰিয়াত সাধাৰণতে কি খাদ্য পৰিৱেশন কৰা হয়?", "as"),
        ("Naon kadaharan kantin sakola anu umum di dieu?", "su"),
        ("Apa makanan kantin sekolah yang umum di sini?", "id"),
        ("Menene abinci na gama gari a gidan abinci na makaranta?", "ha"),
        ("ቅድመ መደበኛ ልጆች የተለመደ መክሰስ ምንድን ነው?", "am"),
        ("məktəbəqədər uşaqlar üçün tipik qəlyanaltı nədir?", "az"),
        ("یک غذای معمولی کافه‌تریای مدارس چیست؟", "fa"),
        ("ما هو طعام كافتيريا المدرسة الشائع؟", "ar"),
        ("学龄前儿童常见的零食是什么？", "zh"),
        ("유치원 어린이들이 많이 먹는 간식은 무엇인가요?", "ko"),
        ("Ποιο είναι το πιο δημοφιλές φρούτο;", "el"),
    ],
)
def test_language_identification(langid: LanguageIdentifier, text: str, lang: str) -> None:
    guess = langid.identify(text)
    assert guess is not None and guess.lang == lang


def test_language_needs_letters(langid: LanguageIdentifier) -> None:
    assert langid.identify("12:30 ?!") is None
    short = langid.identify("ok hi")
    long = langid.identify("What do people usually eat for breakfast on a weekday morning?")
    assert long is not None and (short is None or short.confidence < long.confidence)


def test_dominant_script() -> None:
    assert dominant_script("日本の食べ物")[0] == "Kana"  # Japanese mixes Han and Kana
    assert dominant_script("中国菜")[0] == "Han"
    assert dominant_script("1234")[0] is None


# ---------------------------------------------------------------- posterior
def _top(posterior) -> str:  # type: ignore[no-untyped-def]
    return str(posterior["cultures"][0]["id"])


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_place_named_is_confident(detector: CultureDetector) -> None:
    post = detector.detect(_user("What is a common snack for kids in Ethiopia?"), candidates=BLEND)
    assert _top(post) == "ETH" and not post["ambiguous"] and not post["unknown"]
    assert post["cultures"][0]["p"] > 0.9
    assert any(s["kind"] == "mention" and "Ethiopia" in s["evidence"] for s in post["signals"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("¿Qué desayunan en Kenia?", "KEN"),
        ("¿Qué se come en Grecia en Semana Santa?", "GRC"),
        ("¿Qué comen en Argelia en Navidad?", "DZA"),
        ("Was isst man in Kenia zum Frühstück?", "KEN"),
    ],
)
def test_place_named_in_the_message_language_is_confident(
    detector: CultureDetector, text: str, expected: str
) -> None:
    # The place's name in the language of the message (not a language its people speak)
    # names it as surely as its English or own-language name.
    post = detector.detect(_user(text))
    assert _top(post) == expected and not post["ambiguous"]
    assert post["cultures"][0]["p"] > 0.9


def test_foreign_name_in_another_language_stays_weak(
    detector: CultureDetector, index: MentionIndex
) -> None:
    found = index.find("¿Qué desayunan en Kenia?")
    assert found and found[0].kind == "foreign" and "es" in found[0].languages
    # English text with the Spanish spelling: a hint, not a certain place.
    post = detector.detect(_user("What do people in Kenia eat?"))
    assert _top(post) == "KEN" and post["cultures"][0]["p"] < 0.9
    # A name that is also a city of a culture keeps the city reading (Granada, Spain).
    post = detector.detect(_user("¿Qué se come en Granada?"))
    assert _top(post) == "ESP"


def test_posterior_shape(detector: CultureDetector) -> None:
    post = detector.detect(_user("¿Qué comen los niños en la escuela?"))
    ps = [c["p"] for c in post["cultures"]]
    assert 0 < len(ps) <= 10
    assert ps == sorted(ps, reverse=True)
    assert sum(ps) <= 1.0 + 1e-6


def test_shared_language_is_ambiguous(detector: CultureDetector) -> None:
    post = detector.detect(
        _user("¿Cuál es la fruta más popular entre los niños?"), candidates=BLEND
    )
    assert post["ambiguous"]
    assert {"ESP", "MEX"} <= {c["id"] for c in post["cultures"][:3]}
    post = detector.detect(_user("가장 인기 있는 과일은 무엇인가요?"), candidates=BLEND)
    assert post["ambiguous"] and {"KOR", "PRK"} <= {c["id"] for c in post["cultures"][:3]}


def test_language_tied_to_one_culture(detector: CultureDetector) -> None:
    cases = {
        "কি ফল সবাতোকৈ জনপ্ৰিয়?": "IN-AS",
        "Naon buah nu pang populerna di dieu?": "ID-JB",
        "Wane irin 'ya'yan itace ne yafi shahara?": "NGA",
        "ምን ዓይነት ፍሬ እጅግ ታዋቂ ነው?": "ETH",
    }
    for text, culture in cases.items():
        assert _top(detector.detect(_user(text), candidates=BLEND)) == culture, text


def test_no_cue_is_unknown(detector: CultureDetector) -> None:
    post = detector.detect(_user("12 + 30 = ?"))
    assert post["unknown"] and post["cultures"] == []
    post = detector.detect([])
    assert post["unknown"]


def test_english_without_place_is_not_confident(detector: CultureDetector) -> None:
    post = detector.detect(_user("What do people usually eat for breakfast?"), candidates=BLEND)
    assert post["unknown"] or post["ambiguous"]
    assert all(c["p"] < 0.8 for c in post["cultures"])


def test_explicit_overrides_text(detector: CultureDetector) -> None:
    post = detector.detect(_user("What do people eat in Spain?"), explicit="ke", candidates=BLEND)
    assert _top(post) == "KEN"  # explicit culture joins the candidates
    assert post["signals"][0]["kind"] == "explicit"
    with pytest.raises(InvalidInputError):
        detector.detect(_user("hi"), explicit="Atlantis")


def test_profile_and_history_turns(detector: CultureDetector) -> None:
    post = detector.detect(_user("What should I cook tonight?"), profile={"GRC": 1.0})
    assert _top(post) == "GRC"
    history = [{"cultures": [{"id": "IRN", "p": 0.95}], "task": "open_qa"}]
    post = detector.detect(_user("And for dessert?"), history=history)  # type: ignore[arg-type]
    assert _top(post) == "IRN"


def test_earlier_turn_cue_fades_but_counts(detector: CultureDetector) -> None:
    messages = [
        HumanMessage("I grew up in Assam."),
        AIMessage("Nice! What would you like to know?"),
        HumanMessage("What do people eat for breakfast?"),
    ]
    post = detector.detect(messages, candidates=BLEND)
    assert _top(post) == "IN-AS"
    signal = next(s for s in post["signals"] if s["culture"] == "IN-AS")
    assert signal["kind"].startswith("history:")
    assert signal["weight"] < detector.weights.name  # faded with distance


def test_current_place_beats_earlier_one(detector: CultureDetector) -> None:
    messages = [
        {"role": "user", "content": "I'm from Greece."},
        {"role": "assistant", "content": "Got it."},
        {"role": "user", "content": "What do people in Iran eat at weddings?"},
    ]
    assert _top(detector.detect(messages, candidates=BLEND)) == "IRN"


def test_region_beats_its_country(detector: CultureDetector) -> None:
    post = detector.detect(_user("What do people eat in West Java, Indonesia?"))
    assert _top(post) == "ID-JB"
    post = detector.detect(_user("What do people eat in Assam?"))
    ids = [c["id"] for c in post["cultures"]]
    assert ids[0] == "IN-AS" and "IND" in ids[:3]


def test_settings_thresholds_are_used() -> None:
    strict = CultureDetector(settings=Settings(detect_ambiguous_top_p=0.999999))
    post = strict.detect(_user("What do people eat in Mexico?"), candidates=BLEND)
    assert post["ambiguous"]
    deaf = CultureDetector(settings=Settings(detect_unknown_evidence=100.0))
    assert deaf.detect(_user("What do people eat in Mexico?"))["unknown"]


def test_from_settings_reads_deployment_cultures() -> None:
    det = CultureDetector.from_settings(Settings(detect_cultures="kor, es"))
    assert det.candidate_ids() == ["KOR", "ESP"]
    post = det.detect(_user("What do people eat in Kenya?"))
    assert {c["id"] for c in post["cultures"]} <= {"KOR", "ESP"}


# ---------------------------------------------------------------- task
def test_task_multiple_choice_formats() -> None:
    lines = detect_task("Which drink is most popular?\nA. tea\nB. coffee\nC. water")
    assert lines["name"] == "multiple_choice" and lines["options"] == ["tea", "coffee", "water"]
    assert lines["question"] == "Which drink is most popular?"
    numbered = detect_task(
        "How important is religion?\n1) Very\n2) Rather\n3) Not very\n4) Not at all"
    )
    assert numbered["options"] == ["Very", "Rather", "Not very", "Not at all"]
    inline = detect_task("Pick one: (A) rice (B) bread (C) noodles")
    assert inline["name"] == "multiple_choice" and inline["options"] == ["rice", "bread", "noodles"]
    # The question mark after the last option, and what follows it, are not part of the option.
    asked = detect_task("Which is more polite: (A) bowing (B) shaking hands? Thanks a lot")
    assert asked["options"] == ["bowing", "shaking hands"]
    cue = detect_task("What do you drink in the morning? Options: tea, coffee, juice")
    assert cue["options"] == ["tea", "coffee", "juice"]
    assert "Options" not in cue["question"]


def test_task_other_kinds() -> None:
    cls = detect_task("Classify the sentiment of this review as positive, negative or neutral: meh")
    assert cls["name"] == "classification" and cls["options"] == ["positive", "negative", "neutral"]
    assert detect_task("Is this statement true or false? Tea is a drink.")["options"] == [
        "true",
        "false",
    ]
    assert detect_task("Please rewrite this email to sound more polite.")["name"] == "rewrite"
    assert detect_task("Should I bring a gift when visiting a family in Japan?")["name"] == "advice"
    assert detect_task("What do people eat at weddings in Greece?")["name"] == "open_qa"
    assert detect_task("在中国最受欢迎的水果是什么？")["name"] == "open_qa"
    assert detect_task("Hello there.")["name"] == "other"
    assert detect_task("Numbers 1. and 2. alone are not options")["options"] == []


def test_detector_normalize_accepts_phrases(detector: CultureDetector) -> None:
    assert detector.normalize("kr") == "KOR"
    assert detector.normalize("Northern Nigeria") == "NGA"
    with pytest.raises(InvalidInputError):
        detector.normalize("Spain and Mexico")  # two cultures: not a single id


def test_lowercase_text_and_common_words(index: MentionIndex) -> None:
    assert _ids(index, "what do people eat in mexico") == {"MEX"}  # lower-case typists
    assert _ids(index, "tell us what you eat with turkey and chili") == set()
    assert _ids(index, "Tell us about Turkey") == {"TUR"}
    assert _ids(index, "Family reunion on a Sunday in Spain") == {"ESP"}


def test_task_multilingual_cues_and_enumerated_lists() -> None:
    survey = detect_task("How important is family? Options: 1 = Very; 2 = Rather; 3 = Not at all")
    assert survey["options"] == ["Very", "Rather", "Not at all"]
    assert detect_task("¿Debería llevar un regalo a la cena?")["name"] == "advice"
    assert detect_task("Traduce esto al inglés, por favor")["name"] == "rewrite"
    assert detect_task("我应该带什么礼物？")["name"] == "advice"
