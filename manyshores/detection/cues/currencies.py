"""Currency cues from CLDR (via `babel`): names, plurals, symbols and ISO codes.

Each country's tender currencies (`get_territory_currencies`) are named in English and in the
country's languages (`Mexican Peso`, `pesos mexicanos`, `대한민국 원`), with CLDR's plural forms,
the word people say on its own (`peso`, `rupees`, `yen`: shared by every country whose currency
it names), the ISO code (`MXN`) and the symbols CLDR gives in the country's locales (`₹`, `₦`,
`R$`). A bare `$` names too many currencies to say anything and is left out.
"""

from __future__ import annotations

from manyshores.cultures import CultureRegistry
from manyshores.detection.cues.words import OrdinaryWords, tokens

SKIPPED_SYMBOLS = frozenset({"$"})
"""Symbols shared by so many currencies that they point nowhere."""


def _distinct_symbol(symbol: str) -> bool:
    """A symbol that is no word or abbreviation: `₹`, `R$`, `港元`; not `KM` (also kilometres),
    `FC` (football club) or `kr`."""
    symbol = symbol.strip()
    if not symbol or symbol in SKIPPED_SYMBOLS or not any(ch.isprintable() for ch in symbol):
        return False
    if any(not ch.isalnum() for ch in symbol):
        return True
    return len(symbol) >= 2 and not any(ch.isascii() for ch in symbol)


def _locales(lang: str, alpha2: str) -> list[str]:
    return [f"{lang}_{alpha2}", lang]


def currency_cues(registry: CultureRegistry, words: OrdinaryWords) -> dict[str, set[str]]:
    """Currency name, word, code or symbol → culture ids (countries only: a region shares its
    country's currency). Codes that spell a word (`TRY`, `PEN`, `ALL`) are left out."""
    from babel import Locale, UnknownLocaleError
    from babel.numbers import get_currency_name, get_currency_symbol, get_territory_currencies

    out: dict[str, set[str]] = {}

    def add(text: str | None, culture: str) -> None:
        text = (text or "").strip()
        if text and text not in SKIPPED_SYMBOLS and not text.isdigit():
            out.setdefault(text, set()).add(culture)

    for c in registry.all():
        if c.kind != "country":
            continue
        try:
            codes = get_territory_currencies(c.alpha2, tender=True)
        except Exception:  # a territory CLDR lists without currency data
            continue
        for code in codes:
            if not words.languages(code):
                add(code, c.id)
            for lang in dict.fromkeys(["en", *c.languages]):
                for name in _locales(lang, c.alpha2):
                    try:
                        locale = Locale.parse(name)
                    except (UnknownLocaleError, ValueError):
                        continue
                    display = get_currency_name(code, locale=locale)
                    if display == code:
                        continue  # CLDR has no name in this language
                    add(display, c.id)
                    plurals = dict(locale._data["currency_names_plural"].get(code, {}))
                    for form in plurals.values():
                        add(form, c.id)
                    symbol = get_currency_symbol(code, locale=locale)
                    if symbol != code and _distinct_symbol(symbol):
                        add(symbol, c.id)
                    if lang == "en":
                        # The unit people say alone: the last word of the English name.
                        for form in [display, *plurals.values()]:
                            parts = tokens(form)
                            if len(parts) > 1:
                                add(parts[-1], c.id)
    return out
