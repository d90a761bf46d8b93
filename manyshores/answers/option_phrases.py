"""The fixed sentences of option replies (survey shares, everyday options), per language.

Built like `phrases.Phrases`: "label: answer", so no language needs agreement between a culture's
name and the words around it. The languages are those of `phrases.PHRASES`; a language without a
table here gets English.
"""

from __future__ import annotations

from dataclasses import dataclass

from manyshores.answers.phrases import in_language


@dataclass(frozen=True)
class OptionPhrases:
    """One language's option-reply sentences; `{culture}` is the culture's name in it."""

    likely: str
    """Introduces the most likely option when it is among what people said to similar questions."""
    closest: str
    """Introduces the most likely option when none of the options is among what people said."""
    also: str
    """Introduces a second option that is nearly as likely."""
    said: str
    """Introduces what people answered to `{question}`, the question an option is matched to."""
    survey_similar: str
    """Introduces shares mixed from the culture's answers to similar World Values Survey questions."""
    survey_own: str
    """Introduces the culture's own shares for the asked World Values Survey question."""
    depends: str
    """An option question with no culture: the answer depends on one; which?"""
    estimate: str
    """Introduces the experts' pick when people's answers say nothing about the options."""


OPTION_PHRASES: dict[str, OptionPhrases] = {
    "en": OptionPhrases(
        likely="In {culture}, judging by what people there answered to similar questions, the most likely option is",
        closest="None of these options is among what people in {culture} answered to similar questions; the closest to what they say is",
        also="Also possible",
        said="Asked “{question}”, people there said",
        survey_similar="Among people in {culture} asked similar World Values Survey questions",
        survey_own="How people in {culture} answered this World Values Survey question",
        depends="The answer depends on the culture: people in different countries answer this differently. Tell me which country or culture you mean and I will answer from what people there say.",
        estimate="A guess of models trained on survey answers from {culture}, not people's answers to this question",
    ),
    "es": OptionPhrases(
        likely="En {culture}, a juzgar por lo que la gente respondió a preguntas parecidas, la opción más probable es",
        closest="Ninguna de estas opciones está entre lo que la gente de {culture} respondió a preguntas parecidas; la más cercana a lo que dicen es",
        also="También es posible",
        said="Ante la pregunta «{question}», la gente de allí respondió",
        survey_similar="Entre la gente de {culture} a la que se hicieron preguntas parecidas de la Encuesta Mundial de Valores",
        survey_own="Cómo respondió la gente de {culture} a esta pregunta de la Encuesta Mundial de Valores",
        depends="La respuesta depende de la cultura: en cada país se responde de forma distinta. Dime a qué país o cultura te refieres y responderé con lo que dice la gente de allí.",
        estimate="Una estimación de modelos entrenados con respuestas de encuestas de {culture}, no respuestas de personas a esta pregunta",
    ),
    "pt": OptionPhrases(
        likely="{culture} — a julgar pelo que as pessoas responderam a perguntas semelhantes, a opção mais provável é",
        closest="{culture} — nenhuma destas opções está entre o que as pessoas responderam a perguntas semelhantes; a mais próxima do que dizem é",
        also="Também é possível",
        said="Perguntadas “{question}”, as pessoas de lá responderam",
        survey_similar="{culture} — entre as pessoas a quem se fizeram perguntas semelhantes da Pesquisa Mundial de Valores",
        survey_own="{culture} — como as pessoas responderam a esta pergunta da Pesquisa Mundial de Valores",
        depends="A resposta depende da cultura: em cada país as pessoas respondem de forma diferente. Diga-me a que país ou cultura se refere e responderei com base no que as pessoas de lá dizem.",
        estimate="{culture} — uma estimativa de modelos treinados com respostas de pesquisas, não respostas de pessoas a esta pergunta",
    ),
    "fr": OptionPhrases(
        likely="{culture} — d'après ce que les gens y ont répondu à des questions proches, l'option la plus probable est",
        closest="{culture} — aucune de ces options ne figure parmi ce que les gens y ont répondu à des questions proches ; la plus proche de ce qu'ils disent est",
        also="Également possible",
        said="À la question « {question} », les gens de là-bas ont répondu",
        survey_similar="{culture} — parmi les personnes interrogées sur des questions proches de l'Enquête mondiale sur les valeurs",
        survey_own="{culture} — les réponses à cette question de l'Enquête mondiale sur les valeurs",
        depends="La réponse dépend de la culture : d'un pays à l'autre, les gens répondent différemment. Dites-moi de quel pays ou de quelle culture vous parlez, et je répondrai d'après ce qu'en disent les gens de là-bas.",
        estimate="{culture} — une estimation de modèles entraînés sur des réponses d'enquête, pas des réponses de personnes à cette question",
    ),
    "de": OptionPhrases(
        likely="{culture} — nach dem, was Menschen dort auf ähnliche Fragen geantwortet haben, ist die wahrscheinlichste Option",
        closest="{culture} — keine dieser Optionen ist unter dem, was Menschen dort auf ähnliche Fragen geantwortet haben; am nächsten an ihren Antworten ist",
        also="Ebenfalls möglich",
        said="Auf die Frage „{question}“ antworteten Menschen dort",
        survey_similar="{culture} — unter Menschen, denen ähnliche Fragen des World Values Survey gestellt wurden",
        survey_own="{culture} — so wurde diese Frage des World Values Survey beantwortet",
        depends="Die Antwort hängt von der Kultur ab: In verschiedenen Ländern antworten Menschen unterschiedlich. Sagen Sie mir, welches Land oder welche Kultur Sie meinen, dann antworte ich mit dem, was die Menschen dort sagen.",
        estimate="{culture} — eine Schätzung von Modellen, die mit Umfrageantworten trainiert wurden, keine Antworten von Menschen auf diese Frage",
    ),
    "ru": OptionPhrases(
        likely="{culture} — судя по ответам людей на похожие вопросы, наиболее вероятный вариант",
        closest="{culture} — ни одного из этих вариантов нет среди ответов людей на похожие вопросы; ближе всего к тому, что они говорят",
        also="Также возможно",
        said="На вопрос «{question}» люди там ответили",
        survey_similar="{culture} — среди людей, которым задавали похожие вопросы Всемирного исследования ценностей",
        survey_own="{culture} — как люди ответили на этот вопрос Всемирного исследования ценностей",
        depends="Ответ зависит от культуры: в разных странах люди отвечают по-разному. Скажите, какую страну или культуру вы имеете в виду, и я отвечу на основе ответов людей оттуда.",
        estimate="{culture} — оценка моделей, обученных на ответах опросов, а не ответы людей на этот вопрос",
    ),
    "el": OptionPhrases(
        likely="{culture} — με βάση όσα απάντησαν οι άνθρωποι εκεί σε παρόμοιες ερωτήσεις, η πιο πιθανή επιλογή είναι",
        closest="{culture} — καμία από αυτές τις επιλογές δεν είναι ανάμεσα σε όσα απάντησαν οι άνθρωποι εκεί σε παρόμοιες ερωτήσεις· πιο κοντά σε όσα λένε είναι",
        also="Επίσης πιθανό",
        said="Στην ερώτηση «{question}», οι άνθρωποι εκεί απάντησαν",
        survey_similar="{culture} — ανάμεσα σε ανθρώπους που ρωτήθηκαν παρόμοιες ερωτήσεις της Παγκόσμιας Έρευνας Αξιών",
        survey_own="{culture} — πώς απάντησαν οι άνθρωποι σε αυτή την ερώτηση της Παγκόσμιας Έρευνας Αξιών",
        depends="Η απάντηση εξαρτάται από τον πολιτισμό: σε κάθε χώρα οι άνθρωποι απαντούν διαφορετικά. Πείτε μου ποια χώρα ή ποιον πολιτισμό εννοείτε και θα απαντήσω με ό,τι λένε οι άνθρωποι εκεί.",
        estimate="{culture} — εκτίμηση μοντέλων εκπαιδευμένων σε απαντήσεις ερευνών, όχι απαντήσεις ανθρώπων σε αυτή την ερώτηση",
    ),
    "tr": OptionPhrases(
        likely="{culture}: oradaki insanların benzer sorulara verdiği cevaplara göre en olası seçenek",
        closest="{culture}: bu seçeneklerin hiçbiri oradaki insanların benzer sorulara verdiği cevaplar arasında yok; söylediklerine en yakın olan",
        also="Bu da olası",
        said="“{question}” diye sorulduğunda oradaki insanların cevabı",
        survey_similar="{culture}: Dünya Değerler Araştırması'nın benzer soruları sorulan insanlar arasında",
        survey_own="{culture}: insanların bu Dünya Değerler Araştırması sorusuna verdiği cevaplar",
        depends="Cevap kültüre bağlı: farklı ülkelerde insanlar bunu farklı cevaplıyor. Hangi ülkeyi veya kültürü kastettiğinizi söyleyin, oradaki insanların cevaplarına göre yanıtlayayım.",
        estimate="{culture}: anket cevaplarıyla eğitilmiş modellerin bir tahmini, insanların bu soruya verdiği cevaplar değil",
    ),
    "az": OptionPhrases(
        likely="{culture}: oradakı insanların oxşar suallara verdiyi cavablara görə ən ehtimal olunan seçim",
        closest="{culture}: bu seçimlərin heç biri oradakı insanların oxşar suallara verdiyi cavablar arasında yoxdur; dediklərinə ən yaxın olan",
        also="Bu da mümkündür",
        said="“{question}” soruşulanda oradakı insanların cavabı",
        survey_similar="{culture}: Dünya Dəyərlər Sorğusunun oxşar sualları verilən insanlar arasında",
        survey_own="{culture}: insanların bu Dünya Dəyərlər Sorğusu sualına verdiyi cavablar",
        depends="Cavab mədəniyyətdən asılıdır: müxtəlif ölkələrdə insanlar buna fərqli cavab verir. Hansı ölkəni və ya mədəniyyəti nəzərdə tutduğunuzu deyin, oradakı insanların cavablarına əsasən cavab verim.",
        estimate="{culture}: sorğu cavabları ilə öyrədilmiş modellərin təxmini, insanların bu suala verdiyi cavablar deyil",
    ),
    "id": OptionPhrases(
        likely="Di {culture}, berdasarkan jawaban orang-orang di sana atas pertanyaan serupa, pilihan yang paling mungkin adalah",
        closest="Di {culture}, tidak ada pilihan ini di antara jawaban orang-orang di sana atas pertanyaan serupa; yang paling dekat dengan jawaban mereka adalah",
        also="Juga mungkin",
        said="Saat ditanya “{question}”, orang-orang di sana menjawab",
        survey_similar="Di antara orang-orang di {culture} yang ditanya pertanyaan serupa dari World Values Survey",
        survey_own="Jawaban orang-orang di {culture} atas pertanyaan World Values Survey ini",
        depends="Jawabannya tergantung pada budayanya: orang di negara yang berbeda menjawab secara berbeda. Sebutkan negara atau budaya yang Anda maksud, dan saya akan menjawab berdasarkan jawaban orang-orang di sana.",
        estimate="Perkiraan model yang dilatih dengan jawaban survei dari {culture}, bukan jawaban orang atas pertanyaan ini",
    ),
    "su": OptionPhrases(
        likely="Di {culture}, dumasar kana jawaban jalma di dinya kana patarosan anu sarupa, pilihan anu paling mungkin nyaéta",
        closest="Di {culture}, euweuh pilihan ieu di antara jawaban jalma di dinya kana patarosan anu sarupa; anu pangdeukeutna kana jawaban maranéhna nyaéta",
        also="Ogé mungkin",
        said="Basa ditanya “{question}”, jalma di dinya ngajawab",
        survey_similar="Di antara jalma di {culture} anu ditanya patarosan anu sarupa ti World Values Survey",
        survey_own="Jawaban jalma di {culture} kana patarosan World Values Survey ieu",
        depends="Jawabanana gumantung kana budayana: jalma di nagara anu béda ngajawab ieu sacara béda. Sebatkeun nagara atawa budaya anu dimaksad, engké abdi ngajawab dumasar kana jawaban jalma di dinya.",
        estimate="Perkiraan modél anu dilatih ku jawaban survéi ti {culture}, sanés jawaban jalma kana patarosan ieu",
    ),
    "ha": OptionPhrases(
        likely="A {culture}, bisa ga amsoshin da mutanen can suka bayar ga tambayoyi masu kama da wannan, zaɓin da ya fi yiwuwa shi ne",
        closest="A {culture}, babu ɗaya daga cikin waɗannan zaɓuɓɓuka a cikin amsoshin da mutanen can suka bayar ga tambayoyi masu kama da wannan; wanda ya fi kusa da abin da suke faɗi shi ne",
        also="Mai yiwuwa kuma",
        said="Da aka tambaye su “{question}”, mutanen can sun amsa",
        survey_similar="Tsakanin mutanen {culture} da aka yi wa tambayoyi masu kama da wannan na World Values Survey",
        survey_own="Yadda mutanen {culture} suka amsa wannan tambaya ta World Values Survey",
        depends="Amsar ta dogara ne da al'ada: mutane a ƙasashe daban-daban suna amsa wannan daban. Faɗa mini ƙasa ko al'adar da kake nufi, zan amsa daga abin da mutanen can suke faɗi.",
        estimate="Ƙiyasin samfuran kwamfuta da aka horar da amsoshin bincike na {culture}, ba amsoshin mutane ga wannan tambaya ba",
    ),
    "sw": OptionPhrases(
        likely="{culture} — kwa kuzingatia majibu ya watu wa huko kwa maswali yanayofanana, chaguo linalowezekana zaidi ni",
        closest="{culture} — hakuna chaguo kati ya haya lililo miongoni mwa majibu ya watu wa huko kwa maswali yanayofanana; lililo karibu zaidi na wanachosema ni",
        also="Pia inawezekana",
        said="Walipoulizwa “{question}”, watu wa huko walijibu",
        survey_similar="{culture} — miongoni mwa watu walioulizwa maswali yanayofanana ya World Values Survey",
        survey_own="{culture} — jinsi watu walivyojibu swali hili la World Values Survey",
        depends="Jibu linategemea utamaduni: watu wa nchi tofauti hujibu hili tofauti. Niambie ni nchi au utamaduni gani unamaanisha, nami nitajibu kutokana na yale watu wa huko wanasema.",
        estimate="{culture} — makadirio ya modeli zilizofunzwa kwa majibu ya tafiti, si majibu ya watu kwa swali hili",
    ),
    "ar": OptionPhrases(
        likely="في {culture}، بناءً على ما أجاب به الناس هناك عن أسئلة مشابهة، الخيار الأرجح هو",
        closest="في {culture}، لا يوجد أي من هذه الخيارات بين ما أجاب به الناس هناك عن أسئلة مشابهة؛ والأقرب إلى ما يقولونه هو",
        also="ومن الممكن أيضًا",
        said="عند سؤالهم «{question}»، أجاب الناس هناك",
        survey_similar="بين الناس في {culture} الذين سُئلوا أسئلة مشابهة من المسح العالمي للقيم",
        survey_own="كيف أجاب الناس في {culture} عن هذا السؤال من المسح العالمي للقيم",
        depends="الإجابة تعتمد على الثقافة: يجيب الناس في البلدان المختلفة عن هذا بشكل مختلف. أخبرني بالبلد أو الثقافة التي تقصدها لأجيب بما يقوله الناس هناك.",
        estimate="تقدير من نماذج دُرّبت على إجابات استطلاعات من {culture}، وليس إجابات الناس عن هذا السؤال",
    ),
    "fa": OptionPhrases(
        likely="در {culture}، بر پایه پاسخ‌های مردم آنجا به پرسش‌های مشابه، محتمل‌ترین گزینه",
        closest="در {culture}، هیچ‌یک از این گزینه‌ها در میان پاسخ‌های مردم آنجا به پرسش‌های مشابه نیست؛ نزدیک‌ترین به آنچه می‌گویند",
        also="همچنین ممکن است",
        said="در پاسخ به پرسش «{question}»، مردم آنجا گفتند",
        survey_similar="در میان مردم {culture} که پرسش‌های مشابهی از پیمایش جهانی ارزش‌ها از آنها پرسیده شد",
        survey_own="پاسخ مردم {culture} به این پرسش پیمایش جهانی ارزش‌ها",
        depends="پاسخ به فرهنگ بستگی دارد: مردم در کشورهای مختلف به این پرسش پاسخ‌های متفاوتی می‌دهند. بگویید منظورتان کدام کشور یا فرهنگ است تا از پاسخ‌های مردم آنجا بگویم.",
        estimate="برآورد مدل‌هایی که با پاسخ‌های پیمایش‌های {culture} آموزش دیده‌اند، نه پاسخ مردم به این پرسش",
    ),
    "ko": OptionPhrases(
        likely="{culture}에서 비슷한 질문에 사람들이 한 대답으로 보아 가장 가능성 높은 선택지",
        closest="{culture}에서 비슷한 질문에 사람들이 한 대답 중에는 이 선택지들이 없습니다. 그들의 대답에 가장 가까운 것",
        also="다음도 가능함",
        said="“{question}”라는 질문에 그곳 사람들의 대답",
        survey_similar="세계가치관조사(World Values Survey)의 비슷한 질문을 받은 {culture} 사람들의 응답",
        survey_own="이 세계가치관조사 질문에 대한 {culture} 사람들의 응답",
        depends="대답은 문화에 따라 다릅니다. 나라마다 사람들이 다르게 대답합니다. 어느 나라나 문화를 말씀하시는지 알려 주시면 그곳 사람들의 대답을 바탕으로 답하겠습니다.",
        estimate="{culture}의 설문 응답으로 학습한 모델의 추정(이 질문에 대한 사람들의 대답이 아님)",
    ),
    "ja": OptionPhrases(
        likely="{culture}で似た質問に人々が答えた内容から見て、最も可能性の高い選択肢",
        closest="{culture}で似た質問に人々が答えた中に、これらの選択肢はありません。彼らの答えに最も近いもの",
        also="ほかに考えられるもの",
        said="「{question}」という質問への現地の人々の回答",
        survey_similar="世界価値観調査の似た質問に答えた{culture}の人々の間で",
        survey_own="この世界価値観調査の質問への{culture}の人々の回答",
        depends="答えは文化によって異なります。国によって人々の答え方が違います。どの国や文化についてか教えていただければ、現地の人々の回答に基づいてお答えします。",
        estimate="{culture}の調査回答で学習したモデルの推定（この質問への人々の回答ではありません）",
    ),
    "zh": OptionPhrases(
        likely="在{culture}，根据当地人对类似问题的回答，最可能的选项是",
        closest="在{culture}，当地人对类似问题的回答中没有这些选项；与他们所说最接近的是",
        also="也有可能",
        said="被问到“{question}”时，当地人的回答是",
        survey_similar="在被问及世界价值观调查中类似问题的{culture}人中",
        survey_own="{culture}人对这道世界价值观调查问题的回答",
        depends="答案取决于文化：不同国家的人对此回答不同。请告诉我您指的是哪个国家或文化，我会根据当地人的回答来回答。",
        estimate="根据{culture}调查回答训练的模型所作的估计（并非人们对这个问题的回答）",
    ),
    "am": OptionPhrases(
        likely="በ{culture} ሰዎች ለተመሳሳይ ጥያቄዎች ከሰጡት መልስ አንጻር በጣም ሊሆን የሚችለው ምርጫ",
        closest="በ{culture} ሰዎች ለተመሳሳይ ጥያቄዎች ከሰጡት መልስ መካከል ከእነዚህ ምርጫዎች አንዱም የለም፤ ከሚሉት ጋር በጣም የሚቀርበው",
        also="ሊሆን የሚችል ሌላ",
        said="“{question}” ተብለው ሲጠየቁ እዚያ ያሉ ሰዎች የመለሱት",
        survey_similar="የዓለም የእሴቶች ጥናት ተመሳሳይ ጥያቄዎች በተጠየቁ የ{culture} ሰዎች መካከል",
        survey_own="የ{culture} ሰዎች ለዚህ የዓለም የእሴቶች ጥናት ጥያቄ የሰጡት መልስ",
        depends="መልሱ በባህል ላይ የተመሰረተ ነው፤ በተለያዩ ሀገሮች ያሉ ሰዎች ይህን በተለያየ መንገድ ይመልሳሉ። የትኛውን ሀገር ወይም ባህል ማለትዎ እንደሆነ ይንገሩኝ፤ እዚያ ያሉ ሰዎች በሰጡት መልስ መሠረት እመልሳለሁ።",
        estimate="በ{culture} የጥናት መልሶች የሰለጠኑ ሞዴሎች ግምት (ሰዎች ለዚህ ጥያቄ የሰጡት መልስ አይደለም)",
    ),
    "as": OptionPhrases(
        likely="{culture}ত একে ধৰণৰ প্ৰশ্নত মানুহে দিয়া উত্তৰৰ ভিত্তিত আটাইতকৈ সম্ভাৱ্য বিকল্প",
        closest="{culture}ত একে ধৰণৰ প্ৰশ্নত মানুহে দিয়া উত্তৰৰ মাজত এই বিকল্পবোৰৰ এটাও নাই; তেওঁলোকে কোৱা কথাৰ আটাইতকৈ ওচৰৰ",
        also="এইটোও সম্ভৱ",
        said="“{question}” বুলি সোধাত তাত মানুহে উত্তৰ দিছিল",
        survey_similar="বিশ্ব মূল্যবোধ সমীক্ষাৰ একে ধৰণৰ প্ৰশ্ন সোধা {culture}ৰ মানুহৰ মাজত",
        survey_own="এই বিশ্ব মূল্যবোধ সমীক্ষাৰ প্ৰশ্নত {culture}ৰ মানুহে দিয়া উত্তৰ",
        depends="উত্তৰটো সংস্কৃতিৰ ওপৰত নিৰ্ভৰ কৰে: বিভিন্ন দেশৰ মানুহে ইয়াৰ বেলেগ বেলেগ উত্তৰ দিয়ে। আপুনি কোন দেশ বা সংস্কৃতিৰ কথা কৈছে কওক, তাত মানুহে দিয়া উত্তৰৰ ভিত্তিত মই উত্তৰ দিম।",
        estimate="{culture}ৰ সমীক্ষাৰ উত্তৰেৰে প্ৰশিক্ষিত মডেলৰ অনুমান, এই প্ৰশ্নৰ মানুহৰ উত্তৰ নহয়",
    ),
}


def option_phrases_for(lang: str | None) -> OptionPhrases:
    """The language's option sentences, English when there is no table for it."""
    return in_language(OPTION_PHRASES, lang)
