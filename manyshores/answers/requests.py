"""Replies to requests the evidence template does not fit: a text to write, an explanation of
how or why, advice, a comparison, several questions at once (`TaskInfo.request`).

People's answers in the bank are short answers to short questions. For such a request the reply
says what it can: that it cannot do this well, then the closest evidence worded as what it is —
the answers people gave to another question, named (`compose.evidence_reply`'s `related`
wording: "Asked “…”, people there most often said A [1]") — never a bare noun as if it answered
the request. With no evidence it says there is no information.
"""

from __future__ import annotations

from manyshores.answers.compose import Reply

LIMITS: dict[str, dict[str, str]] = {
    "en": {
        "write": "I cannot write such a text well.",
        "how": "I cannot explain this well.",
        "advice": "I cannot give good advice on this.",
        "compare": "I cannot make this comparison well.",
        "multi": "I can only answer one short question at a time.",
    },
    "es": {
        "write": "No sé escribir bien un texto así.",
        "how": "No sé explicar esto bien.",
        "advice": "No sé dar buenos consejos sobre esto.",
        "compare": "No sé hacer bien esta comparación.",
        "multi": "Solo puedo responder una pregunta breve a la vez.",
    },
    "pt": {
        "write": "Não consigo escrever bem um texto assim.",
        "how": "Não consigo explicar isso bem.",
        "advice": "Não consigo dar bons conselhos sobre isso.",
        "compare": "Não consigo fazer bem essa comparação.",
        "multi": "Só consigo responder a uma pergunta curta de cada vez.",
    },
    "fr": {
        "write": "Je ne sais pas bien écrire ce genre de texte.",
        "how": "Je ne sais pas bien expliquer cela.",
        "advice": "Je ne sais pas donner de bons conseils à ce sujet.",
        "compare": "Je ne sais pas bien faire cette comparaison.",
        "multi": "Je ne peux répondre qu'à une question courte à la fois.",
    },
    "de": {
        "write": "Einen solchen Text kann ich nicht gut schreiben.",
        "how": "Das kann ich nicht gut erklären.",
        "advice": "Dazu kann ich keinen guten Rat geben.",
        "compare": "Diesen Vergleich kann ich nicht gut ziehen.",
        "multi": "Ich kann nur eine kurze Frage auf einmal beantworten.",
    },
    "ru": {
        "write": "Я не умею хорошо писать такие тексты.",
        "how": "Я не могу хорошо это объяснить.",
        "advice": "Я не могу дать хороший совет об этом.",
        "compare": "Я не могу хорошо сделать такое сравнение.",
        "multi": "Я могу ответить только на один короткий вопрос за раз.",
    },
    "el": {
        "write": "Δεν μπορώ να γράψω καλά ένα τέτοιο κείμενο.",
        "how": "Δεν μπορώ να το εξηγήσω καλά.",
        "advice": "Δεν μπορώ να δώσω καλή συμβουλή γι' αυτό.",
        "compare": "Δεν μπορώ να κάνω καλά αυτή τη σύγκριση.",
        "multi": "Μπορώ να απαντήσω μόνο σε μία σύντομη ερώτηση κάθε φορά.",
    },
    "tr": {
        "write": "Böyle bir metni iyi yazamam.",
        "how": "Bunu iyi açıklayamam.",
        "advice": "Bu konuda iyi bir tavsiye veremem.",
        "compare": "Bu karşılaştırmayı iyi yapamam.",
        "multi": "Bir seferde yalnızca kısa bir soruyu yanıtlayabilirim.",
    },
    "az": {
        "write": "Belə bir mətni yaxşı yaza bilmirəm.",
        "how": "Bunu yaxşı izah edə bilmirəm.",
        "advice": "Bu barədə yaxşı məsləhət verə bilmirəm.",
        "compare": "Bu müqayisəni yaxşı apara bilmirəm.",
        "multi": "Bir dəfəyə yalnız bir qısa suala cavab verə bilirəm.",
    },
    "id": {
        "write": "Saya tidak bisa menulis teks seperti itu dengan baik.",
        "how": "Saya tidak bisa menjelaskan hal ini dengan baik.",
        "advice": "Saya tidak bisa memberi saran yang baik tentang hal ini.",
        "compare": "Saya tidak bisa membuat perbandingan ini dengan baik.",
        "multi": "Saya hanya bisa menjawab satu pertanyaan singkat dalam satu waktu.",
    },
    "su": {
        "write": "Abdi teu tiasa nyerat téks sapertos kitu kalayan saé.",
        "how": "Abdi teu tiasa ngajelaskeun ieu kalayan saé.",
        "advice": "Abdi teu tiasa masihan saran anu saé ngeunaan ieu.",
        "compare": "Abdi teu tiasa ngabandingkeun ieu kalayan saé.",
        "multi": "Abdi ngan ukur tiasa ngajawab hiji patarosan pondok dina hiji waktos.",
    },
    "ha": {
        "write": "Ba zan iya rubuta irin wannan rubutu da kyau ba.",
        "how": "Ba zan iya bayyana wannan da kyau ba.",
        "advice": "Ba zan iya ba da shawara mai kyau game da wannan ba.",
        "compare": "Ba zan iya yin wannan kwatancen da kyau ba.",
        "multi": "Tambaya guda gajeriya kawai zan iya amsawa a lokaci ɗaya.",
    },
    "sw": {
        "write": "Siwezi kuandika maandishi ya aina hiyo vizuri.",
        "how": "Siwezi kueleza hili vizuri.",
        "advice": "Siwezi kutoa ushauri mzuri kuhusu hili.",
        "compare": "Siwezi kufanya ulinganisho huu vizuri.",
        "multi": "Ninaweza kujibu swali moja fupi tu kwa wakati mmoja.",
    },
    "ar": {
        "write": "لا أستطيع كتابة نص كهذا بشكل جيد.",
        "how": "لا أستطيع شرح هذا بشكل جيد.",
        "advice": "لا أستطيع تقديم نصيحة جيدة في هذا.",
        "compare": "لا أستطيع إجراء هذه المقارنة بشكل جيد.",
        "multi": "أستطيع الإجابة عن سؤال قصير واحد فقط في كل مرة.",
    },
    "fa": {
        "write": "نمی‌توانم چنین متنی را خوب بنویسم.",
        "how": "نمی‌توانم این را خوب توضیح دهم.",
        "advice": "نمی‌توانم درباره این توصیه خوبی بدهم.",
        "compare": "نمی‌توانم این مقایسه را خوب انجام دهم.",
        "multi": "هر بار فقط به یک پرسش کوتاه می‌توانم پاسخ دهم.",
    },
    "ko": {
        "write": "그런 글은 잘 쓰지 못합니다.",
        "how": "이것은 잘 설명하지 못합니다.",
        "advice": "이에 대해서는 좋은 조언을 드리지 못합니다.",
        "compare": "이런 비교는 잘 하지 못합니다.",
        "multi": "한 번에 짧은 질문 하나에만 답할 수 있습니다.",
    },
    "ja": {
        "write": "そのような文章はうまく書けません。",
        "how": "これはうまく説明できません。",
        "advice": "これについて良い助言はできません。",
        "compare": "この比較はうまくできません。",
        "multi": "一度に答えられるのは短い質問一つだけです。",
    },
    "zh": {
        "write": "我写不好这样的文字。",
        "how": "我解释不好这个问题。",
        "advice": "我无法就此给出好的建议。",
        "compare": "我做不好这种比较。",
        "multi": "我一次只能回答一个简短的问题。",
    },
    "am": {
        "write": "እንደዚህ ያለ ጽሑፍ በደንብ መጻፍ አልችልም።",
        "how": "ይህን በደንብ ማብራራት አልችልም።",
        "advice": "ስለዚህ ጥሩ ምክር መስጠት አልችልም።",
        "compare": "ይህን ንጽጽር በደንብ ማድረግ አልችልም።",
        "multi": "በአንድ ጊዜ አንድ አጭር ጥያቄ ብቻ ነው መመለስ የምችለው።",
    },
    "as": {
        "write": "মই এনে লেখা ভালদৰে লিখিব নোৱাৰো।",
        "how": "মই এইটো ভালদৰে বুজাব নোৱাৰো।",
        "advice": "এই বিষয়ে মই ভাল পৰামৰ্শ দিব নোৱাৰো।",
        "compare": "মই এই তুলনা ভালদৰে কৰিব নোৱাৰো।",
        "multi": "মই এবাৰত কেৱল এটা চুটি প্ৰশ্নৰ উত্তৰ দিব পাৰো।",
    },
}
"""What the reply cannot do for each kind of request, in each reply language."""


def reply_language(lang: str | None) -> str:
    """The language the limit is said in: `lang` when there is a sentence for it, else English
    (as the rest of the reply: `phrases.phrases_for`, `evidence_phrases.evidence_phrases_for`)."""
    code = (lang or "en").split("-")[0].lower()
    return code if code in LIMITS else "en"


def limit_sentence(request: str, lang: str | None) -> str:
    """The sentence saying the reply cannot do what a request of this kind asks."""
    sentences = LIMITS[reply_language(lang)]
    return sentences.get(request, sentences["multi"])


def request_reply(request: str, evidence: Reply, lang: str | None) -> Reply:
    """The reply to a request of kind `request` (not `fact`): that it cannot do this well, then
    the `evidence` reply, composed with every culture's paragraph worded as related (the
    question people there answered, named). `short` stays empty: the reply has no answer of its
    own to the request; `answers` keeps the related answers it names."""
    text = limit_sentence(request, lang)
    if evidence.text:
        text += "\n" + evidence.text
    return Reply(text=text, short="", answers=list(evidence.answers))
