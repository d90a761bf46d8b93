"""Request kinds: short factual questions stay `fact`; writing, how-to, advice, comparisons and
several questions at once are told apart, in several languages."""

from __future__ import annotations

import pytest

from manyshores.detection.task import detect_task
from manyshores.eval.runners.requests import bank_fact_share, request_accuracy
from manyshores.paths import PACKAGE_BLEND


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Write a short toast for my friend's wedding in South Korea.", "write"),
        ("Escríbeme un poema sobre la Navidad en España.", "write"),
        ("한국에 있는 친구 결혼식을 위한 짧은 축사를 써 줘.", "write"),
        ("帮我写一段在中国朋友婚礼上的祝酒词。", "write"),
        ("Tuliskan ucapan selamat Idul Fitri untuk keluarga saya.", "write"),
        ("اكتب لي تهنئة قصيرة بمناسبة عيد الفطر.", "write"),
        ("How should I greet an older person in Northern Nigeria?", "how"),
        ("¿Cómo debo saludar a los abuelos de mi novio en México?", "how"),
        ("북한에서 어른께 어떻게 인사해야 하나요?", "how"),
        ("Γιατί βάφουν κόκκινα αυγά το Πάσχα;", "how"),
        ("Is it rude to refuse food at a dinner in Greece?", "advice"),
        ("¿Debería llevar flores a una cena en España?", "advice"),
        ("서울에서 먹을 만한 음식을 추천해 주세요.", "advice"),
        ("Compare wedding traditions in Spain and Mexico.", "compare"),
        ("¿Cuál es la diferencia entre la Navidad en España y en México?", "compare"),
        ("한국과 북한의 설날 음식의 차이점은 무엇인가요?", "compare"),
        ("Do people in Iran celebrate Yalda night? What do they eat?", "multi"),
        ("¿Qué comen en México en Navidad y cómo lo celebran?", "multi"),
        ("中国人中秋节吃什么？送什么礼物？", "multi"),
        # Short factual questions, follow-ups and bank-like questions with asides stay facts.
        ("What is the legal drinking age in the US?", "fact"),
        ("How do people in Indonesia celebrate the end of Ramadan?", "fact"),
        ("What about breakfast?", "fact"),
        ("¿Y para el desayuno?", "fact"),
        ("한국에서는 설날에 무엇을 먹나요?", "fact"),
        ("在中国，比较流行的早餐是什么？", "fact"),
        (
            "What is the most famous rivalry in a national sports league in the US? (e.g., ___ vs ___)",
            "fact",
        ),
        (
            "How long (in days) is the marriage leave in Greece? (Provide Arabic numerals only.)",
            "fact",
        ),
        ("Which is better for breakfast? Options: tea, coffee", "fact"),
    ],
)
def test_request_kind(text, kind):
    assert detect_task(text)["request"] == kind


def test_shipped_bank_questions_stay_facts():
    """Every question people answered in the shipped bank is a short factual one."""
    report = bank_fact_share(PACKAGE_BLEND)
    shares = report["fact_share"]
    assert report["n"]["all"] > 4000
    assert shares["en"] >= 0.98 and shares["local"] >= 0.98
    assert min(v for k, v in shares.items() if ":" in k) >= 0.95, report["not_fact"]


def test_hand_written_requests():
    report = request_accuracy()
    assert report["n"]["all"]["all"] >= 150 and report["skipped"]["n"] == 0
    assert report["accuracy"]["all"]["all"] >= 0.95, report["errors"]
    assert min(report["accuracy"]["kind"].values()) >= 0.9, report["errors"]


# --------------------------------------------------------------------------- replies
@pytest.fixture(scope="module")
def assistant(tiny_base, tmp_path_factory):
    from tests.graph_fixtures import tiny_assistant

    return tiny_assistant(tiny_base, tmp_path_factory.mktemp("requests"))


@pytest.mark.parametrize(
    ("text", "lang", "limit", "culture"),
    [
        (
            "Write a short toast for my friend's wedding in South Korea.",
            "en",
            "I cannot write such a text well.",
            "South Korea",
        ),
        ("Should I bring a gift when I visit a family in Iran?", "en", "good advice", "Iran"),
        (
            "¿Cuál es la diferencia entre la Navidad en España y en México?",
            "es",
            "No sé hacer bien esta comparación.",
            "México",
        ),
        (
            "한국에 있는 친구 결혼식을 위한 짧은 축사를 써 줘.",
            "ko",
            "그런 글은 잘 쓰지 못합니다.",
            "대한민국",
        ),
    ],
)
def test_a_request_gets_related_evidence_never_a_bare_answer(assistant, text, lang, limit, culture):
    r = assistant.invoke(text, thread_id=f"req-{abs(hash(text))}")
    v = r.values
    assert v["task"]["request"] != "fact" and v["language"] == lang
    assert v["experts"] == []  # the base model is not asked to write it
    first, *rest = v["answer"].split("\n")
    assert limit in first
    assert rest, "the related evidence follows"
    assert culture in v["answer"]
    assert v["short"] == ""  # no answer of its own to the request
    assert v["wording"] == "related"
    for line in rest:  # each culture's answers are named as answers to another question
        assert "[1]" in v["answer"] and any(q in line for q in "“«")


def test_a_request_with_no_culture_gets_a_general_answer_labelled_as_such(assistant):
    # No culture's voice to fake: the base model's text is shown as what it is, a general answer.
    r = assistant.invoke("Write me a poem about spring.", thread_id="req-poem")
    v = r.values
    assert [e["id"] for e in v["experts"]] == ["base"]
    # The tiny test model's text is dropped as unusable; the reply never claims a culture.
    assert "cannot write" not in v["answer"] and "Tell me which country" in v["answer"]
    assert v["short"] == "" and v["wording"] == "none"


def test_culture_names_are_in_the_reply_language():
    from manyshores.answers.compose import culture_label

    # Nigerian Pidgin has no reply sentences: the reply is English, so is the name.
    assert culture_label("NGA", "pcm") == "Nigeria"
    assert culture_label("NGA", "en") == "Nigeria"
    assert culture_label("NGA", "ha") not in ("Nigeria", "Naijíria")
    assert culture_label("KOR", "ko") == "대한민국"


def test_a_configured_chat_model_is_asked_to_write():
    from manyshores.experts.routing import route
    from tests.fakes import posterior_of

    class Picker:
        def task_adapter(self, posterior, task):
            return None

    task = detect_task("Write a short toast for my friend's wedding in South Korea.")
    posterior = posterior_of({"KOR": 1.0})
    assert route(posterior, task, Picker()).experts == []  # type: ignore[arg-type]
    written = route(posterior, task, Picker(), writes_requests=True)  # type: ignore[arg-type]
    assert [e["id"] for e in written.experts] == ["base"]
    fact = detect_task("What do people in South Korea give at weddings?")
    assert [e["id"] for e in route(posterior, fact, Picker()).experts] == ["base"]  # type: ignore[arg-type]


def test_eval_requests_command(test_data, tmp_path):
    import json

    from typer.testing import CliRunner

    from manyshores.cli.main import app

    out = tmp_path / "requests.json"
    args = ["eval", "requests", "--blend", str(test_data / "blend"), "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["bank"]["fact_share"]["all"] >= 0.98 and report["bank"]["n"]["all"] > 100
    assert report["requests"]["accuracy"]["all"]["all"] >= 0.95
