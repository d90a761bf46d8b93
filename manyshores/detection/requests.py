"""What kind of reply a message asks for: a short fact, or something the evidence cannot be.

The evidence template answers short factual questions of the kinds people answered in the bank
("What do people eat at Christmas?"). A request to write something, to explain how or why, to
advise, to compare, or a message asking several things at once is not one of them: a noun from
the bank is not its answer. `request_kind(question)` tells them apart by phrase rules in the
registry's reply languages:

- `write`: write / compose / draft a text ("Write a short toast…", `Escribe un poema`, `써 줘`);
- `compare`: compare / the difference between / X versus Y;
- `multi`: two or more questions in one message, or one question joining two ("…, and how…");
- `how`: how the asker should do something, how to, why, explain / describe;
- `advice`: should I, is it rude to, what should I bring, recommend, tips;
- `fact`: everything else (the bank's kind of question).

In that order: a message that asks to write advice is `write`. A question with answer options
is always `fact` here (its options are scored, not written).
"""

from __future__ import annotations

import re
from typing import get_args

from manyshores.state import RequestKind

REQUEST_KINDS: tuple[str, ...] = get_args(RequestKind)
"""Every kind `request_kind` returns."""

_START = r"(?:^|(?<=[.!?¿¡:;\n]))\s*(?:please\s+|pls\s+|now\s+|also\s+)?"
"""Where an imperative begins: the start of the text or of a sentence."""
_POLITE = (
    r"(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?|help\s+me\s+|i\s+(?:want|need|would\s+"
    r"like|'d\s+like)\s+(?:you\s+)?to\s+|i\s+need\s+(?:you\s+to\s+)?|let'?s\s+)?"
)
_GENRES = (
    r"(?:toast|poem|speech|letter|message|story|song|haiku|limerick|e-?mail|card|note|caption|"
    r"essay|blessing|greeting|invitation|text|tweet|post|eulogy|prayer|wish(?:es)?|lyrics|joke)"
)

_WRITE = re.compile(
    _START
    + _POLITE
    + r"(?:write|compose|draft|pen|rewrite|make\s+up|come\s+up\s+with)\b"
    + r"|\b(?:give|make|create|prepare|draft)\s+(?:me\s+|us\s+)?(?:a|an|some)\s+(?:short\s+|"
    r"little\s+|nice\s+|funny\s+|formal\s+)?" + _GENRES + r"\b"
    r"|\b(?:need|want|like|looking\s+for)\s+(?:a|an|some)\s+(?:[\w'-]+\s+){0,2}"
    + _GENRES
    + r"\s+(?:for|to)\b|\bput\s+together\s+(?:a|an|some)\b|\b(?:a\s+few|some)\s+(?:lines|words)\s+"
    r"(?:for|to|about)\b"
    r"|\b(?:puedes|podr[ií]as|puede|podr[ií]a)\s+(?:escribir|redactar|componer)\b"
    # Spanish, Portuguese, French, German, Russian, Greek.
    r"|\b(?:escr[ií]b(?:e|eme|ame|an|anme|a|ime)|red[aá]ct(?:a|e|ame|eme)|comp[oó]n(?:me)?|"
    r"hazme\s+un[ao]?|dame\s+un[ao]?\s+(?:brindis|poema|discurso|carta|mensaje|canci[oó]n|"
    r"cuento|historia|felicitaci[oó]n)|escreva|escreve-me|redija|componha|"
    r"[ée]cris(?:-moi)?|[ée]crivez|r[ée]dige[sz]?|schreib(?:e|en\s+sie)?|verfasse|"
    r"напиши(?:те)?|составь(?:те)?|сочини(?:те)?|γράψ(?:ε|τε)|συνέταξε)\b"
    # Turkish, Azerbaijani (only sentence-final or with a polite ending: `yaz` is also summer).
    r"|\byaz(?:ar\s+m[ıi]s[ıi]n(?:[ıi]z)?|abilir\s+mi(?:s[ıi]n|siniz)|ın)?\s*[.!?]?\s*$"
    # Indonesian, Sundanese, Hausa, Swahili.
    r"|\b(?:tuliskan|tulislah|buatkan|buatlah|karangkan|tuliskeun|jieunkeun|rubuta|"
    r"niandikie|niandikia|andika|tunga)\b"
    # Arabic, Persian, Korean, Japanese, Chinese, Amharic, Assamese.
    r"|اكتب|أكتب\s+لي|اكتبي|ألّف|بنویس|بسرای|써\s?(?:줘|주세요|주실|줄래)|작성해|지어\s?(?:줘|주세요)"
    r"|書いて|作って(?:ください|くれ)|作成して|写一|写个|写篇|写首|帮我写|请写|撰写|编一|"
    r"ጻፍልኝ|ጻፊልኝ|ጻፉልኝ|ፃፍልኝ|লিখি\s+দিয়া|ৰচনা\s+কৰা",
    re.IGNORECASE | re.MULTILINE,
)

_COMPARE = re.compile(
    r"\bcompar(?:e|ed|ing|ison)\b|\bdifferences?\s+between\b|\bdiffer(?:s|ent)?\s+from\b|"
    # "Which is more popular, tea or coffee?", "Mexico or Spain: where is it bigger?"
    r"\b(?:more|less|better|worse|bigger|smaller|larger)\b[^?.]*\bor\b|"
    r"\bor\b[^?.]*\b(?:more|less|better|worse|bigger|smaller|larger)\b|"
    r"(?:어떻게|뭐가|무엇이)\s*(?:달라|다른가|다릅니)|"
    r"\b(?:vs\.?|versus)\s|\bhow\s+(?:do|does|is|are)\b[^?]*\bdiffer\b|\bsimilarities\b|"
    r"\bbetter\s+than\b|\bcompar\w+\b|\bdiferencias?\s+entre\b|\bse\s+diferencia\b|"
    r"\bdiferenças?\s+entre\b|\bdiff[ée]rences?\s+entre\b|\bvergleich\w*\b|"
    r"\bunterschied\w*\s+zwischen\b|\bсравни\w*\b|\bразниц\w*\s+между\b|\bотлича\w*\b|"
    r"\bσύγκρι\w*\b|\bδιαφορ\w*\s+μεταξύ\b|\bkarşılaştır\w*\b|\barasındaki\s+fark\w*\b|"
    r"\bmüqayisə\w*\b|\barasındakı\s+fərq\w*\b|\bbandingkan\b|\bperbandingan\b|"
    r"\bperbedaan\s+antara\b|\bbandingkeun\b|\bkwatanta\b|\bbambanci\s+tsakanin\b|"
    r"\blinganisha\b|\btofauti\s+kati\s+ya\b"
    r"|قارن|مقارنة|الفرق\s+بين|الفروق\s+بين|مقایسه|تفاوت\s+(?:بین|میان)|فرق\s+(?:بین|میان)"
    # Chinese 比较 alone is also "rather" (比较受欢迎): only its comparing uses.
    r"|비교해|비교하면|차이점|차이가\s+(?:뭐|무엇)|比較して|違いは|比べて|比较一下|进行比较|对比|区别|"
    r"有什么不同"
    r"|አወዳድር|ልዩነቱ|তুলনা\s+কৰা|পাৰ্থক্য",
    re.IGNORECASE,
)

_HOW = re.compile(
    r"\bhow\s+(?:should|do|can|could|would|might|shall|must|am)\s+(?:i|we|one|you|someone|"
    r"a\s+(?:guest|visitor|foreigner|tourist|man|woman))\b(?!\s+(?:say|call|spell)\b)|"
    r"\bhow\s+to\b|\b(?:explain|describe)\b|\betiquette\b|^\s*why\b|[.?!]\s*why\b|\bwhy\s+(?:do|does|did|is|"
    r"are|would|should)\b|\bwhat(?:'s|\s+is)\s+the\s+(?:best|right|proper|correct|polite)\s+way\s+"
    r"to\b|\btell\s+me\s+(?:about|how|why)\b|\bsteps\s+to\b|\bwalk\s+me\s+through\b"
    r"|\bc[oó]mo\s+(?:debo|deber[ií]a|puedo|podr[ií]a|tengo\s+que|hay\s+que|se\s+debe|hago|"
    r"se\s+saluda)\b|"
    r"\bexpl[ií]ca(?:me)?\b|\bpor\s+qu[eé]\b|\bla\s+mejor\s+manera\s+de\b|"
    r"\bcomo\s+(?:devo|posso|deveria|se\s+deve|fa[çc]o)\b|\bexplique\b|"
    r"\bcomment\s+(?:dois-je|puis-je|devrais-je|faire|faut-il)\b|\bexpliquez\b|\bpourquoi\b|"
    r"\bwie\s+(?:sollte|soll|kann|muss)\s+(?:ich|man|wir)\b|\berkl[äa]r(?:e|en\s+sie)?\b|"
    r"\bwarum\b|\bwieso\b|\bкак\s+(?:мне|нужно|надо|следует|правильно|лучше)\b|"
    r"\bобъясни(?:те)?\b|\bпочему\b|\bπώς\s+(?:πρέπει|μπορώ|να)\b|\bεξήγησε\b|\bγιατί\b|"
    r"\bnas[ıi]l\b[^?]*\bmal[ıi](?:y[ıi]m|y[ıi]z)\b|\bneden\b|\ba[çc][ıi]kla\w*\b|"
    r"\bnec[əe]\b[^?]*\bmal[ıi](?:yam|y[ıi]q)\b|\bniy[əe]\b|\bizah\s+et\w*\b|"
    r"\bbagaimana\s+(?:cara\s+saya|saya|kita|sebaiknya|seharusnya)\b|\bjelaskan\b|"
    r"\bmengapa\b|\bkenapa\b|\bkumaha\s+(?:carana\s+abdi|abdi|urang\s+kedah)\b|\bjelaskeun\b|"
    r"\byaya\s+(?:zan|ya\s+kamata\s+in)\b|\bmeyasa\b|\bdon\s+me\b|\bnawezaje\b|"
    r"\bninapaswa\s+ku\w+je\b|\bkwa\s+nini\b|\beleza\b"
    r"|كيف\s+(?:يجب|ينبغي|يمكنني|أستطيع|علي)|لماذا|اشرح|چگونه\s+(?:باید|می‌توانم|میتوانم)|"
    r"چطور\s+(?:باید|می‌توانم|میتوانم)|چرا|توضیح\s+(?:بده|دهید)|어떻게\s*(?:해야|하면\s*(?:좋|될)|"
    r"인사해야)|왜|설명해|どうすれば|どのように(?:すれば|したら)|(?:すれ|たら)ば?(?:いい|よい)(?:です|でしょう)か|なぜ|どうして|説明して|"
    r"我应该怎么|我该怎么|怎样才能|如何才能|应该如何|为什么|解释一下|"
    # Amharic ለምን ያህል is "how long", not "why".
    r"እንዴት\s+(?:ልሰላም|ላድርግ|ማድረግ\s+አለብኝ)|ለምን(?!\s*ያ[ክህ]ል)|አስረዳ|কেনেকৈ\s+(?:কৰিব\s+লাগে|কৰিম)|"
    r"কিয়|বুজাই\s+দিয়া",
    re.IGNORECASE | re.MULTILINE,
)

_ADVICE = re.compile(
    r"\bshould\s+(?:i|we)\b|\bshall\s+(?:i|we)\b|\b(?:any|some|give\s+me)\s+(?:tips|advice|"
    r"suggestions|recommendations|ideas)\b|\brecommend\b|\bsuggest\b|\badvi[cs]e\b|"
    r"\bis\s+it\s+(?:ok|okay|rude|appropriate|polite|acceptable|fine|bad|impolite|"
    r"disrespectful|customary|expected|necessary)\s+(?:to|if|for)\b|\bwould\s+it\s+be\s+(?:rude|"
    r"ok|okay|appropriate|strange|weird)\b|\bdo\s+i\s+(?:need|have)\s+to\b|"
    r"\bhelp\s+me\s+(?:decide|choose|plan|pick)\b|\bwhat\s+(?:gift|present)\s+(?:should|to)\b|"
    r"\bwhat\s+to\s+(?:bring|wear|give|say|do|avoid)\b|\bwhat\s+should\s+(?:i|we)\b|"
    r"\bdo'?s\s+and\s+don'?ts\b|\bis\s+[\w-]+ing\s+(?:expected|rude|ok|okay|appropriate|polite|"
    r"acceptable|customary|necessary|allowed|impolite)\b"
    r"|\bdeber[ií]a\s+(?:llevar|ir|usar|decir|hacer|dar)\b|\bme\s+recomiendas\b|"
    r"\brecomienda(?:s|ci[oó]n|ciones)\b|\bconsejos?\b|\bsugieres\b|"
    r"\bes\s+de\s+mala\s+educaci[oó]n\b|\bqu[eé]\s+(?:le\s+)?(?:regalo|llevo|me\s+pongo)\b|"
    r"\bdeveria\b|\brecomenda\w*\b|\bconselhos?\b|\bdevrais-je\b|\bdois-je\b|\bconseils?\b|"
    r"\brecommande\w*\b|\bsollte\s+ich\b|\bsoll\s+ich\b|\bempfiehl\w*\b|\bratschl[äa]g\w*\b|"
    r"\btipps\b|\bstoit\b|\bстоит\s+ли\b|\bмне\s+следует\b|\bпосоветуй\w*\b|\bсовет\w*\b|"
    r"\bрекоменд\w*\b|\bприлично\s+ли\b|\bσυμβουλ\w*\b|\bπροτείνεις\b|\bmel[ıi]\s*miyim\b|"
    r"\bmal[ıi]\s*m[ıi]y[ıi]m\b|\btavsiye\w*\b|\bayıp\s+m[ıi]\b|\bm[əe]sl[əe]h[əe]t\w*\b|"
    r"\bt[öo]vsiy[əe]\w*\b|\bharuskah\b|\bapakah\s+saya\s+(?:harus|perlu|boleh)\b|"
    r"\bsaran(?:kan)?\b|\brekomendasi\b|\bapakah\s+sopan\b|\bkedah\s+abdi\b|\bshawara\b|"
    r"\bya\s+kamata\s+in\b|\bninapaswa\b|\bnishauri\b|\bushauri\b|\bmapendekezo\b"
    r"|هل\s+(?:يجب|ينبغي)\s+(?:علي|عليّ|أن)|نصيحة|تنصحني|تنصح|اقترح|توصي|هل\s+من\s+(?:اللائق|الوقاحة)"
    r"|آیا\s+باید|توصیه\s+(?:می‌کنید|میکنید|می‌کنی|میکنی)|پیشنهاد\s+(?:می‌کنید|میکنید|می‌کنی|میکنی|"
    r"بده|بدهید)|نصیحت|해야\s*할까|추천해|조언|무례한가|실례인가|괜찮을까|주의할\s*점|조심해야|"
    r"어떤\s+선물을\s+(?:해야|줘야|가져가야|사야)|すべきですか|した方がいい|おすすめ|アドバイス|失礼ですか|我应该|"
    r"应不应该|推荐|有什么建议|失礼吗|不礼貌吗|ምክር|পৰামৰ্শ|উচিত\s+নেকি",
    re.IGNORECASE,
)

_QUESTION_END = re.compile(r"？|[?؟](?=\s|$|[\"'”’»)\]])|(?<=[\u0370-\u03ff])\s*;(?=\s|$)")
"""A question's end: the question mark of any script (the full-width one needs no space after
it), the Greek one (`;` after Greek)."""
_JOINED = re.compile(
    r"(?:,|\s)\s*(?:and|or|also)\s+(?:what|how|why|where|when|which|who)\b[^?]*\?|\s(?:y|e)\s+(?:qu[eé]|c[oó]mo|por\s+qu[eé]|d[oó]nde|cu[aá]ndo|cu[aá]l)\s"
    r"[^?]*\?|\bet\s+(?:que|comment|pourquoi|o[uù]|quand)\b[^?]*\?|\bund\s+(?:was|wie|warum|wo|"
    r"wann)\b[^?]*\?|\bdan\s+(?:apa|bagaimana|mengapa|di\s+mana|kapan)\b[^?]*\?",
    re.IGNORECASE,
)
"""One question that joins a second one to it ("What do they eat, and how do they celebrate?")."""
_BRACKETED = re.compile(r"\([^()]*\)")
"""A bracketed aside (`(e.g., 5)`, `(in minutes)?`): not a question of its own."""


def _several_questions(plain: str) -> bool:
    asked = list(_QUESTION_END.finditer(plain))
    if len(asked) >= 2:
        # Two question marks with words of their own between them: two questions.
        between = plain[asked[0].end() : asked[1].start()]
        return sum(ch.isalpha() for ch in between) >= 3
    return bool(_JOINED.search(plain))


def request_kind(question: str, options: list[str] | None = None) -> RequestKind:
    """The kind of reply `question` (a message without its option list) asks for."""
    if options:
        return "fact"
    # A bracketed aside ("(e.g., ___ vs ___)", "(write digits only)") is no request of its own.
    text = _BRACKETED.sub(" ", question).strip()
    if _WRITE.search(text):
        return "write"
    if _COMPARE.search(text):
        return "compare"
    if _several_questions(text):
        return "multi"
    if _HOW.search(text):
        return "how"
    if _ADVICE.search(text):
        return "advice"
    return "fact"
