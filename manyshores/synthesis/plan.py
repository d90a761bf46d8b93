"""Planning search queries: the topics a task touches, crossed with the culture, in two languages.

A task names what the data is for (`food_qa`, `etiquette`, `holiday_classification`, ...). Its
topics come from `TASK_TOPICS` when the task is known there, else from the task name itself plus
the BLEnD everyday-culture topics. Each topic yields one English query and, when the culture's
main language is not English, one query in that language: the topic word translated when
`TOPIC_WORDS` knows it, always with the culture's own name in that language, so the search
engine favours pages written by the culture's people.
"""

from __future__ import annotations

from dataclasses import dataclass

from manyshores.cultures import iso_name

EVERYDAY_TOPICS = ("food", "sports", "family", "education", "holidays", "work life")
"""BLEnD's six everyday-culture categories: the default topics of any task."""

TASK_TOPICS: dict[str, tuple[str, ...]] = {
    "food_qa": ("breakfast", "street food", "snacks", "festive dishes", "drinks"),
    "etiquette": ("greetings", "table manners", "gift giving", "visiting someone's home"),
    "holidays": ("national holidays", "religious festivals", "wedding customs", "new year"),
    "everyday_qa": EVERYDAY_TOPICS,
}
"""Topics of a few known tasks; any other task name is searched as it is plus the defaults."""

TOPIC_WORDS: dict[str, dict[str, str]] = {
    "es": {
        "food": "comida típica",
        "sports": "deportes populares",
        "family": "familia",
        "education": "escuela",
        "holidays": "fiestas",
        "work life": "vida laboral",
    },
    "ko": {
        "food": "음식",
        "sports": "인기 스포츠",
        "family": "가족",
        "education": "학교",
        "holidays": "명절",
        "work life": "직장 생활",
    },
    "zh": {
        "food": "食物",
        "sports": "运动",
        "family": "家庭",
        "education": "学校",
        "holidays": "节日",
        "work life": "工作",
    },
    "ar": {
        "food": "طعام",
        "sports": "رياضة",
        "family": "عائلة",
        "education": "مدرسة",
        "holidays": "أعياد",
        "work life": "العمل",
    },
    "el": {
        "food": "φαγητό",
        "sports": "αθλήματα",
        "family": "οικογένεια",
        "education": "σχολείο",
        "holidays": "γιορτές",
        "work life": "εργασία",
    },
    "id": {
        "food": "makanan",
        "sports": "olahraga",
        "family": "keluarga",
        "education": "sekolah",
        "holidays": "hari raya",
        "work life": "kerja",
    },
    "fa": {
        "food": "غذا",
        "sports": "ورزش",
        "family": "خانواده",
        "education": "مدرسه",
        "holidays": "تعطیلات",
        "work life": "کار",
    },
    "az": {
        "food": "yemək",
        "sports": "idman",
        "family": "ailə",
        "education": "məktəb",
        "holidays": "bayramlar",
        "work life": "iş həyatı",
    },
}
"""Default topic words in the languages of the BLEnD cultures (others fall back to English)."""


@dataclass(frozen=True)
class PlannedQuery:
    """One search query of the plan."""

    text: str
    """The query as sent to the web and the knowledge base."""
    topic: str
    """The (English) topic it covers."""
    lang: str
    """ISO 639-1 language of the query."""


def task_topics(task: str) -> tuple[str, ...]:
    """Topics of a task: known ones from `TASK_TOPICS`, else the task's words + everyday topics."""
    if task in TASK_TOPICS:
        return TASK_TOPICS[task]
    words = task.replace("_", " ").replace("-", " ").strip()
    return (words, *EVERYDAY_TOPICS) if words else EVERYDAY_TOPICS


def _local(culture: str) -> tuple[str, str] | None:
    """(main language, the culture's name in it), or None when it is English or unknown."""
    try:
        from manyshores.cultures import get_registry

        info = get_registry().get(culture)
    except Exception:  # an id the registry does not know still gets English queries
        return None
    if info is None or not info.main_languages:
        return None
    lang = info.main_languages[0]
    if lang == "en":
        return None
    names = info.names.get(lang) or [info.name]
    return lang, names[0]


def plan_queries(culture: str, task: str, *, languages: int = 2) -> list[PlannedQuery]:
    """Queries for `culture` × the task's topics, English first, then the main language.

    `languages=1` keeps English only. Order is deterministic (resuming relies on it).
    """
    name = iso_name(culture)
    local = _local(culture) if languages > 1 else None
    plan: list[PlannedQuery] = []
    for topic in task_topics(task):
        plan.append(PlannedQuery(f"{topic} in {name}", topic, "en"))
        if local is not None:
            lang, local_name = local
            word = TOPIC_WORDS.get(lang, {}).get(topic, topic)
            plan.append(PlannedQuery(f"{word} {local_name}", topic, lang))
    return plan
