"""A configured chat model's pick on an option question people's answers say nothing about,
worded as what it is: a language model's guess, not people's answers (nor, as the trained
experts' `estimate` says, a model trained on survey answers)."""

from __future__ import annotations

from collections.abc import Sequence

from manyshores.answers.compose import Reply
from manyshores.answers.phrases import phrases_for

CHAT_ESTIMATE: dict[str, str] = {
    "en": "A language model's guess for {culture}, not people's answers to this question",
    "es": "Una suposición de un modelo de lenguaje para {culture}, no respuestas de personas a esta pregunta",
    "pt": "{culture} — um palpite de um modelo de linguagem, não respostas de pessoas a esta pergunta",
    "fr": "{culture} — une supposition d'un modèle de langage, pas des réponses de personnes à cette question",
    "de": "{culture} — eine Vermutung eines Sprachmodells, keine Antworten von Menschen auf diese Frage",
    "ru": "{culture} — догадка языковой модели, а не ответы людей на этот вопрос",
    "el": "{culture} — εικασία ενός γλωσσικού μοντέλου, όχι απαντήσεις ανθρώπων σε αυτή την ερώτηση",
    "tr": "{culture}: bir dil modelinin tahmini, insanların bu soruya verdiği cevaplar değil",
    "az": "{culture}: dil modelinin təxmini, insanların bu suala verdiyi cavablar deyil",
    "id": "Tebakan model bahasa untuk {culture}, bukan jawaban orang atas pertanyaan ini",
    "su": "Tebakan modél basa pikeun {culture}, sanés jawaban jalma kana patarosan ieu",
    "ha": "Hasashen samfurin harshe na kwamfuta game da {culture}, ba amsoshin mutane ga wannan tambaya ba",
    "sw": "{culture} — kisio la modeli ya lugha, si majibu ya watu kwa swali hili",
    "ar": "تخمين نموذج لغوي بشأن {culture}، وليس إجابات الناس عن هذا السؤال",
    "fa": "حدس یک مدل زبانی دربارهٔ {culture}، نه پاسخ مردم به این پرسش",
    "ko": "{culture}에 대한 언어 모델의 추측(이 질문에 대한 사람들의 대답이 아님)",
    "ja": "{culture}についての言語モデルの推測（この質問への人々の回答ではありません）",
    "zh": "语言模型对{culture}的猜测（并非人们对这个问题的回答）",
    "am": "ስለ {culture} የቋንቋ ሞዴል ግምት (ሰዎች ለዚህ ጥያቄ የሰጡት መልስ አይደለም)",
    "as": "{culture}ৰ বিষয়ে এটা ভাষা মডেলৰ অনুমান, এই প্ৰশ্নৰ বাবে মানুহৰ উত্তৰ নহয়",
}
"""The label of a chat model's pick, in each reply language (`{culture}`: the culture's name)."""


def chat_estimate_reply(
    culture_name: str, options: Sequence[str], probs: Sequence[float], lang: str | None
) -> Reply:
    """No answers of people to go by: say so, then the chat model's pick, marked as a language
    model's guess. The reply leads with no answer of its own (`short` is empty), as the trained
    experts' guess does (`option_reply.estimate_reply`)."""
    p = phrases_for(lang)
    code = (lang or "en").split("-")[0].lower()
    label = CHAT_ESTIMATE.get(code, CHAT_ESTIMATE["en"]).format(culture=culture_name)
    lines = [p.no_info.format(culture=culture_name)]
    if options and probs:
        best = max(range(len(options)), key=lambda i: (probs[i], -i))
        lines.append(f"{label}{p.colon} “{options[best]}”{p.end}")
    return Reply(text="\n".join(lines))
