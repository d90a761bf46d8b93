"""The culture registry: coverage, lookup, languages, zones and similarity."""

from __future__ import annotations

import json

import pycountry
import pytest

from manyshores.cultures import ZONES, get_registry, survey_similarity_from_wvs
from manyshores.errors import InvalidInputError

BLEND = ["DZA", "IN-AS", "AZE", "CHN", "ETH", "GRC", "IDN", "IRN", "MEX", "PRK", "NGA", "KOR",
         "ESP", "GBR", "USA", "ID-JB"]  # fmt: skip


@pytest.fixture(scope="module")
def reg():
    return get_registry()


def test_every_iso_country_and_the_regions_are_cultures(reg) -> None:
    for country in pycountry.countries:
        assert reg.is_known(country.alpha_3)
    assert {"IN-AS", "ID-JB"} <= set(reg.regions())
    for cid in BLEND:
        assert cid in reg


def test_normalize_accepts_codes_and_names_in_many_languages(reg) -> None:
    assert reg.normalize("kr") == "KOR"
    assert reg.normalize("KOR") == "KOR"
    assert reg.normalize("in_as") == "IN-AS"
    assert reg.normalize("Germany") == "DEU"
    assert reg.normalize("Corea del Sur") == "KOR"  # Spanish CLDR name
    assert reg.normalize("Allemagne") == "DEU"  # French CLDR name


def test_unknown_id_raises_clear_error(reg) -> None:
    assert not reg.is_known("XYZ")
    with pytest.raises(InvalidInputError, match="unknown culture 'XYZ'"):
        reg.get("XYZ")


def test_languages_names_and_demonyms_come_with_each_culture(reg) -> None:
    kor = reg.get("KOR")
    assert kor.main_languages[0] == "ko"
    assert "대한민국" in kor.names["ko"]
    assert reg.get("IN-AS").main_languages[0] == "as"
    assert reg.get("ID-JB").main_languages[0] == "su"
    assert "ar" in reg.get("DZA").languages  # Algerian Arabic (arq) folds into `ar`
    assert "Mexican" in reg.get("MEX").demonyms["en"]
    assert "Ελλάδα" in reg.get("GRC").names["el"]
    assert reg.get("IN-AS").parent == "IND"


def test_zones_and_regions(reg) -> None:
    for c in reg.all():
        assert c.zone in ZONES
    assert reg.get("USA").zone == reg.get("GBR").zone == "English-speaking"
    assert reg.get("CHN").zone == "Confucian"
    assert reg.get("MEX").zone == "Latin America"
    assert reg.get("KEN").region == "Eastern Africa"
    assert reg.get("KEN").continent == "Africa"


def test_similarity_properties(reg) -> None:
    assert reg.similarity("KOR", "KOR") == 1.0
    assert reg.similarity("ESP", "MEX") == reg.similarity("MEX", "ESP")
    for a, b in [("USA", "ETH"), ("ESP", "CHN"), ("IN-AS", "GRC")]:
        assert 0.0 <= reg.similarity(a, b) < 1.0
    # closer pairs beat farther ones
    assert reg.similarity("KOR", "PRK") > reg.similarity("KOR", "MEX")
    assert reg.similarity("GBR", "USA") > reg.similarity("GBR", "CHN")
    assert reg.similarity("IN-AS", "IND") > reg.similarity("IN-AS", "IDN")
    assert reg.similarity("ID-JB", "IDN") > reg.similarity("ID-JB", "IND")


def test_nearest_ranks_and_truncates(reg) -> None:
    near = reg.nearest("IN-AS", ["CHN", "IND", "USA", "IN-AS"], k=2)
    assert [cid for cid, _ in near] == ["IN-AS", "IND"]
    assert near[0][1] == 1.0
    assert all(0 <= s <= 1 for _, s in reg.nearest("KEN", None, k=5))
    assert len(reg.nearest("KEN", None, k=5)) == 5


def test_survey_similarity_from_wvs(tmp_path) -> None:
    data = {
        "AAA": {"Q1": [0.9, 0.1], "Q2": [0.8, 0.2]},
        "BBB": {"Q1": [0.85, 0.15], "Q2": [0.75, 0.25]},
        "CCC": {"Q1": [0.1, 0.9], "Q2": [0.2, 0.8]},
    }
    path = tmp_path / "train.json"
    path.write_text(json.dumps(data))
    sim = survey_similarity_from_wvs(path)
    assert sim["AAA"]["BBB"] == 1.0  # most similar pair rescales to 1
    assert sim["AAA"]["BBB"] > sim["AAA"]["CCC"]
    assert sim["BBB"]["AAA"] == sim["AAA"]["BBB"]
