"""The fixed sentences of a reply, in the languages people write to us in.

Replies are built as "label: answer [1]" so that no language needs grammar agreement between
a culture's name and the words around it (articles, cases, particles). A language without a
table here gets English.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Phrases:
    """One language's reply sentences; `{culture}` is the culture's name in that language."""

    lead: str
    """Introduces the most common answer."""
    others: str
    """Introduces up to two alternative answers."""
    no_info: str
    """There is no evidence for this question and culture."""
    no_info_any: str
    """There is no evidence and no culture."""
    general: str
    """Marks a general answer that is not drawn from the culture's evidence."""
    neutral: str
    """Marks a general answer when no culture is in play."""
    hint: str
    """Invites the person to name a country or culture."""
    colon: str = ":"
    sep: str = "; "
    end: str = "."


PHRASES: dict[str, Phrases] = {
    "en": Phrases(
        lead="In {culture}, the most common answer is",
        others="Other common answers",
        no_info="I have no information about this for {culture}.",
        no_info_any="I have no information about this.",
        general="A general answer, not specific to {culture}",
        neutral="A general answer, not specific to any culture",
        hint="Tell me which country or culture you mean and I will answer from what people there say.",
    ),
    "es": Phrases(
        lead="En {culture}, la respuesta más común es",
        others="Otras respuestas frecuentes",
        no_info="No tengo información sobre esto para {culture}.",
        no_info_any="No tengo información sobre esto.",
        general="Respuesta general, no específica de {culture}",
        neutral="Respuesta general, no específica de ninguna cultura",
        hint="Dime a qué país o cultura te refieres y responderé con lo que dice la gente de allí.",
    ),
    "pt": Phrases(
        lead="{culture} — a resposta mais comum é",
        others="Outras respostas comuns",
        no_info="Não tenho informações sobre isso para {culture}.",
        no_info_any="Não tenho informações sobre isso.",
        general="Resposta geral, não específica de {culture}",
        neutral="Resposta geral, não específica de nenhuma cultura",
        hint="Diga-me a que país ou cultura se refere e responderei com base no que as pessoas de lá dizem.",
    ),
    "fr": Phrases(
        lead="{culture} — la réponse la plus fréquente est",
        others="Autres réponses fréquentes",
        no_info="Je n'ai pas d'information à ce sujet pour : {culture}.",
        no_info_any="Je n'ai pas d'information à ce sujet.",
        general="Réponse générale, non propre à : {culture}",
        neutral="Réponse générale, propre à aucune culture",
        hint="Dites-moi de quel pays ou de quelle culture vous parlez, et je répondrai d'après ce qu'en disent les gens de là-bas.",
        colon=" :",
    ),
    "de": Phrases(
        lead="{culture} — die häufigste Antwort ist",
        others="Weitere häufige Antworten",
        no_info="Dazu habe ich keine Informationen für {culture}.",
        no_info_any="Dazu habe ich keine Informationen.",
        general="Allgemeine Antwort, nicht speziell für {culture}",
        neutral="Allgemeine Antwort, nicht auf eine bestimmte Kultur bezogen",
        hint="Sagen Sie mir, welches Land oder welche Kultur Sie meinen, dann antworte ich mit dem, was die Menschen dort sagen.",
    ),
    "ru": Phrases(
        lead="{culture} — самый частый ответ",
        others="Другие частые ответы",
        no_info="У меня нет информации об этом ({culture}).",
        no_info_any="У меня нет информации об этом.",
        general="Общий ответ (не только для: {culture})",
        neutral="Общий ответ, не относящийся к какой-либо культуре",
        hint="Скажите, какую страну или культуру вы имеете в виду, и я отвечу на основе ответов людей оттуда.",
    ),
    "el": Phrases(
        lead="{culture} — η πιο συνηθισμένη απάντηση είναι",
        others="Άλλες συνηθισμένες απαντήσεις",
        no_info="Δεν έχω πληροφορίες για αυτό ({culture}).",
        no_info_any="Δεν έχω πληροφορίες για αυτό.",
        general="Γενική απάντηση (όχι ειδικά για: {culture})",
        neutral="Γενική απάντηση, όχι ειδικά για κάποιον πολιτισμό",
        hint="Πείτε μου ποια χώρα ή ποιον πολιτισμό εννοείτε και θα απαντήσω με ό,τι λένε οι άνθρωποι εκεί.",
    ),
    "tr": Phrases(
        lead="{culture} için en yaygın cevap",
        others="Diğer yaygın cevaplar",
        no_info="{culture} için bu konuda bilgim yok.",
        no_info_any="Bu konuda bilgim yok.",
        general="Genel bir cevap, {culture} için özel değil",
        neutral="Genel bir cevap, belirli bir kültüre özgü değil",
        hint="Hangi ülkeyi veya kültürü kastettiğinizi söyleyin, oradaki insanların cevaplarına göre yanıtlayayım.",
    ),
    "az": Phrases(
        lead="{culture} üçün ən çox verilən cavab",
        others="Digər tez-tez verilən cavablar",
        no_info="{culture} üçün bu barədə məlumatım yoxdur.",
        no_info_any="Bu barədə məlumatım yoxdur.",
        general="Ümumi cavab, {culture} üçün xüsusi deyil",
        neutral="Ümumi cavab, heç bir mədəniyyətə xas deyil",
        hint="Hansı ölkəni və ya mədəniyyəti nəzərdə tutduğunuzu deyin, oradakı insanların cavablarına əsasən cavab verim.",
    ),
    "id": Phrases(
        lead="Di {culture}, jawaban yang paling umum adalah",
        others="Jawaban umum lainnya",
        no_info="Saya tidak punya informasi tentang hal ini untuk {culture}.",
        no_info_any="Saya tidak punya informasi tentang hal ini.",
        general="Jawaban umum, tidak khusus untuk {culture}",
        neutral="Jawaban umum, tidak khusus untuk budaya tertentu",
        hint="Sebutkan negara atau budaya yang Anda maksud, dan saya akan menjawab berdasarkan jawaban orang-orang di sana.",
    ),
    "su": Phrases(
        lead="Di {culture}, jawaban anu pangseringna nyaéta",
        others="Jawaban séjén anu sering",
        no_info="Abdi teu gaduh émbaran ngeunaan ieu pikeun {culture}.",
        no_info_any="Abdi teu gaduh émbaran ngeunaan ieu.",
        general="Jawaban umum, henteu husus pikeun {culture}",
        neutral="Jawaban umum, henteu husus pikeun budaya nu tangtu",
        hint="Sebatkeun nagara atawa budaya anu dimaksad, engké abdi ngajawab dumasar kana jawaban jalma di dinya.",
    ),
    "ha": Phrases(
        lead="A {culture}, amsar da aka fi bayarwa ita ce",
        others="Sauran amsoshin da ake yawan bayarwa",
        no_info="Ba ni da bayani game da wannan a {culture}.",
        no_info_any="Ba ni da bayani game da wannan.",
        general="Amsa gabaɗaya, ba ta {culture} kaɗai ba",
        neutral="Amsa gabaɗaya, ba ta wata al'ada ta musamman ba",
        hint="Faɗa mini ƙasa ko al'adar da kake nufi, zan amsa daga abin da mutanen can suke faɗi.",
    ),
    "sw": Phrases(
        lead="{culture} — jibu la kawaida zaidi ni",
        others="Majibu mengine ya kawaida",
        no_info="Sina taarifa kuhusu hili kwa {culture}.",
        no_info_any="Sina taarifa kuhusu hili.",
        general="Jibu la jumla, si mahususi kwa {culture}",
        neutral="Jibu la jumla, si mahususi kwa utamaduni wowote",
        hint="Niambie ni nchi au utamaduni gani unamaanisha, nami nitajibu kutokana na yale watu wa huko wanasema.",
    ),
    "ar": Phrases(
        lead="الإجابة الأكثر شيوعًا في {culture} هي",
        others="إجابات شائعة أخرى",
        no_info="ليست لدي معلومات عن هذا بالنسبة إلى {culture}.",
        no_info_any="ليست لدي معلومات عن هذا.",
        general="إجابة عامة، غير خاصة بـ{culture}",
        neutral="إجابة عامة، غير خاصة بثقافة معينة",
        hint="أخبرني بالبلد أو الثقافة التي تقصدها لأجيب بما يقوله الناس هناك.",
        sep="؛ ",
    ),
    "fa": Phrases(
        lead="رایج‌ترین پاسخ در {culture}",
        others="پاسخ‌های رایج دیگر",
        no_info="درباره این موضوع برای {culture} اطلاعاتی ندارم.",
        no_info_any="درباره این موضوع اطلاعاتی ندارم.",
        general="پاسخی کلی، نه مخصوص {culture}",
        neutral="پاسخی کلی، نه مخصوص فرهنگی خاص",
        hint="بگویید منظورتان کدام کشور یا فرهنگ است تا از پاسخ‌های مردم آنجا بگویم.",
        sep="؛ ",
    ),
    "ko": Phrases(
        lead="{culture}에서 가장 흔한 대답",
        others="다른 흔한 대답",
        no_info="{culture}에 대해서는 이에 관한 정보가 없습니다.",
        no_info_any="이에 관한 정보가 없습니다.",
        general="{culture}에 국한되지 않은 일반적인 답변",
        neutral="특정 문화에 국한되지 않은 일반적인 답변",
        hint="어느 나라나 문화를 말씀하시는지 알려 주시면 그곳 사람들의 대답을 바탕으로 답하겠습니다.",
    ),
    "ja": Phrases(
        lead="{culture}で最も多い回答",
        others="その他のよくある回答",
        no_info="{culture}について、この件に関する情報はありません。",
        no_info_any="この件に関する情報はありません。",
        general="一般的な回答（{culture}に限らない）",
        neutral="一般的な回答（特定の文化に限らない）",
        hint="どの国や文化についてか教えていただければ、現地の人々の回答に基づいてお答えします。",
        colon="：",
        sep="、",
        end="。",
    ),
    "zh": Phrases(
        lead="在{culture}，最常见的回答是",
        others="其他常见回答",
        no_info="我没有关于{culture}这方面的信息。",
        no_info_any="我没有这方面的信息。",
        general="一般性回答（并非{culture}特有）",
        neutral="一般性回答（不针对任何特定文化）",
        hint="请告诉我您指的是哪个国家或文化，我会根据当地人的回答来回答。",
        colon="：",
        sep="；",
        end="。",
    ),
    "am": Phrases(
        lead="በ{culture} በብዛት የሚሰጠው መልስ",
        others="ሌሎች በብዛት የሚሰጡ መልሶች",
        no_info="ስለዚህ ጉዳይ ለ{culture} መረጃ የለኝም።",
        no_info_any="ስለዚህ ጉዳይ መረጃ የለኝም።",
        general="አጠቃላይ መልስ (ለ{culture} ብቻ ያልሆነ)",
        neutral="አጠቃላይ መልስ (ለየትኛውም ባህል ብቻ ያልሆነ)",
        hint="የትኛውን ሀገር ወይም ባህል ማለትዎ እንደሆነ ይንገሩኝ፤ እዚያ ያሉ ሰዎች በሰጡት መልስ መሠረት እመልሳለሁ።",
        colon="፦",
        sep="፤ ",
        end="።",
    ),
    "as": Phrases(
        lead="{culture}ত আটাইতকৈ সাধাৰণ উত্তৰ",
        others="আন সাধাৰণ উত্তৰ",
        no_info="{culture}ৰ বিষয়ে এই সম্পৰ্কে মোৰ ওচৰত কোনো তথ্য নাই।",
        no_info_any="এই বিষয়ে মোৰ ওচৰত কোনো তথ্য নাই।",
        general="সাধাৰণ উত্তৰ ({culture}ৰ বাবে বিশেষ নহয়)",
        neutral="সাধাৰণ উত্তৰ (কোনো বিশেষ সংস্কৃতিৰ বাবে নহয়)",
        hint="আপুনি কোন দেশ বা সংস্কৃতিৰ কথা কৈছে কওক, তাত মানুহে দিয়া উত্তৰৰ ভিত্তিত মই উত্তৰ দিম।",
        end="।",
    ),
}


def in_language(table: Mapping[str, T], lang: str | None) -> T:
    """`table`'s entry for `lang`'s base language (`pt-BR`: `pt`), English when it has none:
    the one lookup of every per-language table of sentences."""
    return table.get((lang or "en").split("-")[0].lower(), table["en"])


def phrases_for(lang: str | None) -> Phrases:
    """The language's sentences, English when there is no table for it."""
    return in_language(PHRASES, lang)
