"""The sentences of an evidence reply, by what was matched, in the languages people write in.

`answer`: the bank question is the asked one ("People in Spain answered this question: orange
[1]."). `related`: people answered another question, which the reply names ("I have no answers
to exactly this for Spain. Asked “What is the most popular fruit in Spain?”, people there most
often said orange [1].", or "one answer people there gave was" when the lead was not that
question's most given answer). Each template is a whole sentence with `{culture}`, `{question}`,
`{answer}` or `{answers}` slots, so each language keeps its own word order and punctuation. A
language without a table here gets English (as `phrases.phrases_for`).
"""

from __future__ import annotations

from dataclasses import dataclass

from manyshores.answers.phrases import in_language


@dataclass(frozen=True)
class EvidencePhrases:
    """One language's evidence sentences."""

    answer: str
    """The asked question's own answers: `{culture}`, `{answer}` (the lead, cited)."""
    related: str
    """Answers to another question, whose most given answer the lead was: `{culture}`,
    `{question}` (quoted), `{answer}`."""
    related_one: str
    """The same when the lead was one of that question's answers, not its most given."""
    others: str
    """The matched question's further answers: `{answers}`."""
    also: str
    """Further answers drawn from related questions: `{answers}`."""
    quotes: tuple[str, str] = ("“", "”")
    """Marks around a quoted question."""
    sep: str = "; "
    """Between answers in a list."""


EVIDENCE_PHRASES: dict[str, EvidencePhrases] = {
    "en": EvidencePhrases(
        answer="People in {culture} answered this question: {answer}.",
        related="I have no answers to exactly this for {culture}. Asked {question}, people there "
        "most often said {answer}.",
        related_one="I have no answers to exactly this for {culture}. Asked {question}, one answer "
        "people there gave was {answer}.",
        others="Other answers: {answers}.",
        also="Other answers to related questions: {answers}.",
    ),
    "es": EvidencePhrases(
        answer="La gente de {culture} respondió a esta pregunta: {answer}.",
        related="No tengo respuestas a exactamente esto para {culture}. A la pregunta {question}, "
        "la gente de allí respondió sobre todo: {answer}.",
        related_one="No tengo respuestas a exactamente esto para {culture}. A la pregunta "
        "{question}, una de las respuestas de la gente de allí fue: {answer}.",
        others="Otras respuestas: {answers}.",
        also="Otras respuestas a preguntas relacionadas: {answers}.",
        quotes=("«", "»"),
    ),
    "pt": EvidencePhrases(
        answer="{culture} — as pessoas responderam a esta pergunta: {answer}.",
        related="Não tenho respostas exatamente a esta pergunta para {culture}. À pergunta "
        "{question}, as pessoas de lá responderam sobretudo: {answer}.",
        related_one="Não tenho respostas exatamente a esta pergunta para {culture}. À pergunta "
        "{question}, uma das respostas das pessoas de lá foi: {answer}.",
        others="Outras respostas: {answers}.",
        also="Outras respostas a perguntas relacionadas: {answers}.",
    ),
    "fr": EvidencePhrases(
        answer="{culture} — les gens ont répondu à cette question : {answer}.",
        related="Je n'ai pas de réponses à exactement cette question pour : {culture}. À la "
        "question {question}, les gens de là-bas ont surtout répondu : {answer}.",
        related_one="Je n'ai pas de réponses à exactement cette question pour : {culture}. À la "
        "question {question}, l'une des réponses des gens de là-bas était : {answer}.",
        others="Autres réponses : {answers}.",
        also="Autres réponses à des questions voisines : {answers}.",
        quotes=("« ", " »"),
    ),
    "de": EvidencePhrases(
        answer="{culture} — auf diese Frage antworteten die Menschen: {answer}.",
        related="Zu genau dieser Frage habe ich für {culture} keine Antworten. Auf die Frage "
        "{question} antworteten die Menschen dort am häufigsten: {answer}.",
        related_one="Zu genau dieser Frage habe ich für {culture} keine Antworten. Auf die Frage "
        "{question} war eine der Antworten der Menschen dort: {answer}.",
        others="Weitere Antworten: {answers}.",
        also="Weitere Antworten auf verwandte Fragen: {answers}.",
        quotes=("„", "“"),
    ),
    "ru": EvidencePhrases(
        answer="{culture} — люди ответили на этот вопрос так: {answer}.",
        related="У меня нет ответов именно на этот вопрос ({culture}). На вопрос {question} люди "
        "там чаще всего отвечали: {answer}.",
        related_one="У меня нет ответов именно на этот вопрос ({culture}). На вопрос {question} "
        "один из ответов людей там: {answer}.",
        others="Другие ответы: {answers}.",
        also="Другие ответы на похожие вопросы: {answers}.",
        quotes=("«", "»"),
    ),
    "el": EvidencePhrases(
        answer="{culture} — οι άνθρωποι απάντησαν σε αυτή την ερώτηση: {answer}.",
        related="Δεν έχω απαντήσεις ακριβώς σε αυτό ({culture}). Στην ερώτηση {question}, οι "
        "άνθρωποι εκεί απάντησαν συχνότερα: {answer}.",
        related_one="Δεν έχω απαντήσεις ακριβώς σε αυτό ({culture}). Στην ερώτηση {question}, μία "
        "από τις απαντήσεις των ανθρώπων εκεί ήταν: {answer}.",
        others="Άλλες απαντήσεις: {answers}.",
        also="Άλλες απαντήσεις σε σχετικές ερωτήσεις: {answers}.",
        quotes=("«", "»"),
    ),
    "tr": EvidencePhrases(
        answer="{culture} — insanlar bu soruya şöyle cevap verdi: {answer}.",
        related="{culture} için tam olarak bu soruya cevabım yok. {question} sorusuna oradaki "
        "insanlar en çok şu cevabı verdi: {answer}.",
        related_one="{culture} için tam olarak bu soruya cevabım yok. {question} sorusuna oradaki "
        "insanların verdiği cevaplardan biri: {answer}.",
        others="Diğer cevaplar: {answers}.",
        also="Benzer sorulara verilen diğer cevaplar: {answers}.",
    ),
    "az": EvidencePhrases(
        answer="{culture} — insanlar bu suala belə cavab verib: {answer}.",
        related="{culture} üçün məhz bu suala cavabım yoxdur. {question} sualına oradakı "
        "insanlar ən çox belə cavab verib: {answer}.",
        related_one="{culture} üçün məhz bu suala cavabım yoxdur. {question} sualına oradakı "
        "insanların verdiyi cavablardan biri: {answer}.",
        others="Digər cavablar: {answers}.",
        also="Oxşar suallara verilən digər cavablar: {answers}.",
    ),
    "id": EvidencePhrases(
        answer="Orang-orang di {culture} menjawab pertanyaan ini: {answer}.",
        related="Saya tidak punya jawaban untuk pertanyaan persis ini untuk {culture}. Untuk "
        "pertanyaan {question}, orang-orang di sana paling sering menjawab: {answer}.",
        related_one="Saya tidak punya jawaban untuk pertanyaan persis ini untuk {culture}. Untuk "
        "pertanyaan {question}, salah satu jawaban orang-orang di sana: {answer}.",
        others="Jawaban lainnya: {answers}.",
        also="Jawaban lain untuk pertanyaan terkait: {answers}.",
    ),
    "su": EvidencePhrases(
        answer="Jalma-jalma di {culture} ngajawab patarosan ieu: {answer}.",
        related="Abdi teu gaduh jawaban pikeun patarosan persis ieu pikeun {culture}. Kana "
        "patarosan {question}, jalma di dinya paling sering ngajawab: {answer}.",
        related_one="Abdi teu gaduh jawaban pikeun patarosan persis ieu pikeun {culture}. Kana "
        "patarosan {question}, salah sahiji jawaban jalma di dinya: {answer}.",
        others="Jawaban séjénna: {answers}.",
        also="Jawaban séjén pikeun patarosan anu patali: {answers}.",
    ),
    "ha": EvidencePhrases(
        answer="Mutane a {culture} sun amsa wannan tambaya: {answer}.",
        related="Ba ni da amsoshin wannan tambaya daidai a {culture}. Ga tambayar {question}, "
        "mutanen can sun fi amsawa da: {answer}.",
        related_one="Ba ni da amsoshin wannan tambaya daidai a {culture}. Ga tambayar {question}, "
        "ɗaya daga cikin amsoshin mutanen can: {answer}.",
        others="Sauran amsoshi: {answers}.",
        also="Sauran amsoshin tambayoyi masu alaƙa: {answers}.",
    ),
    "sw": EvidencePhrases(
        answer="{culture} — watu walijibu swali hili: {answer}.",
        related="Sina majibu ya swali hili hasa kwa {culture}. Kwa swali {question}, watu wa "
        "huko walijibu mara nyingi: {answer}.",
        related_one="Sina majibu ya swali hili hasa kwa {culture}. Kwa swali {question}, mojawapo "
        "ya majibu ya watu wa huko: {answer}.",
        others="Majibu mengine: {answers}.",
        also="Majibu mengine ya maswali yanayohusiana: {answers}.",
    ),
    "ar": EvidencePhrases(
        answer="أجاب الناس في {culture} عن هذا السؤال: {answer}.",
        related="ليست لدي إجابات عن هذا السؤال تحديدًا بالنسبة إلى {culture}. عند سؤالهم "
        "{question}، كانت أكثر إجابات الناس هناك: {answer}.",
        related_one="ليست لدي إجابات عن هذا السؤال تحديدًا بالنسبة إلى {culture}. عند سؤالهم "
        "{question}، كانت إحدى إجابات الناس هناك: {answer}.",
        others="إجابات أخرى: {answers}.",
        also="إجابات أخرى عن أسئلة ذات صلة: {answers}.",
        quotes=("«", "»"),
        sep="؛ ",
    ),
    "fa": EvidencePhrases(
        answer="مردم در {culture} به این پرسش پاسخ داده‌اند: {answer}.",
        related="برای {culture} پاسخی به دقیقاً همین پرسش ندارم. در پاسخ به پرسش {question}، "
        "مردم آنجا بیشتر گفته‌اند: {answer}.",
        related_one="برای {culture} پاسخی به دقیقاً همین پرسش ندارم. در پاسخ به پرسش {question}، "
        "یکی از پاسخ‌های مردم آنجا: {answer}.",
        others="پاسخ‌های دیگر: {answers}.",
        also="پاسخ‌های دیگر به پرسش‌های مرتبط: {answers}.",
        quotes=("«", "»"),
        sep="؛ ",
    ),
    "ko": EvidencePhrases(
        answer="{culture} 사람들이 이 질문에 답한 내용: {answer}.",
        related="{culture}에 대해 정확히 이 질문에 대한 답은 없습니다. {question}라는 질문에 "
        "그곳 사람들이 가장 많이 한 대답: {answer}.",
        related_one="{culture}에 대해 정확히 이 질문에 대한 답은 없습니다. {question}라는 질문에 "
        "그곳 사람들이 한 대답 중 하나: {answer}.",
        others="다른 대답: {answers}.",
        also="관련 질문에 대한 다른 대답: {answers}.",
    ),
    "ja": EvidencePhrases(
        answer="{culture}の人々がこの質問に答えた内容：{answer}。",
        related="{culture}について、まさにこの質問への回答はありません。{question}という質問に、"
        "現地の人々が最も多く答えたのは：{answer}。",
        related_one="{culture}について、まさにこの質問への回答はありません。{question}という質問に"
        "現地の人々が答えたものの一つ：{answer}。",
        others="その他の回答：{answers}。",
        also="関連する質問へのその他の回答：{answers}。",
        quotes=("「", "」"),
        sep="、",
    ),
    "zh": EvidencePhrases(
        answer="{culture}的人们对这个问题的回答：{answer}。",
        related="关于{culture}，我没有针对这个问题本身的回答。对于问题{question}，当地人最常见的"
        "回答是：{answer}。",
        related_one="关于{culture}，我没有针对这个问题本身的回答。对于问题{question}，当地人的回答"
        "之一是：{answer}。",
        others="其他回答：{answers}。",
        also="对相关问题的其他回答：{answers}。",
        sep="；",
    ),
    "am": EvidencePhrases(
        answer="በ{culture} ሰዎች ለዚህ ጥያቄ የሰጡት መልስ፦ {answer}።",
        related="ለ{culture} በትክክል ለዚህ ጥያቄ መልስ የለኝም። {question} ለሚለው ጥያቄ እዚያ ያሉ "
        "ሰዎች በብዛት የሰጡት መልስ፦ {answer}።",
        related_one="ለ{culture} በትክክል ለዚህ ጥያቄ መልስ የለኝም። {question} ለሚለው ጥያቄ እዚያ ያሉ "
        "ሰዎች ከሰጡት መልሶች አንዱ፦ {answer}።",
        others="ሌሎች መልሶች፦ {answers}።",
        also="ለተዛማጅ ጥያቄዎች የተሰጡ ሌሎች መልሶች፦ {answers}።",
        sep="፤ ",
    ),
    "as": EvidencePhrases(
        answer="{culture}ৰ মানুহে এই প্ৰশ্নৰ উত্তৰ দিছে: {answer}।",
        related="{culture}ৰ বাবে ঠিক এই প্ৰশ্নৰ উত্তৰ মোৰ ওচৰত নাই। {question} প্ৰশ্নটোত তাৰ "
        "মানুহে আটাইতকৈ বেছি কৈছে: {answer}।",
        related_one="{culture}ৰ বাবে ঠিক এই প্ৰশ্নৰ উত্তৰ মোৰ ওচৰত নাই। {question} প্ৰশ্নটোত তাৰ "
        "মানুহে দিয়া উত্তৰবোৰৰ এটা: {answer}।",
        others="আন উত্তৰ: {answers}।",
        also="সম্পৰ্কিত প্ৰশ্নৰ আন উত্তৰ: {answers}।",
    ),
}


def evidence_phrases_for(lang: str | None) -> EvidencePhrases:
    """The language's evidence sentences, English when there is no table for it."""
    return in_language(EVIDENCE_PHRASES, lang)
