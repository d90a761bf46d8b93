"""Objects pickled under the home directory: built once, read back, rebuilt when inputs change."""

from __future__ import annotations

import pickle


def test_cached_pickle_builds_once_then_reads_back(tmp_path):
    from manyshores.startup_cache import cached_pickle

    calls: list[int] = []

    def build() -> dict[str, list[int]]:
        calls.append(1)
        return {"value": [1, 2, 3]}

    assert cached_pickle("thing", "k1", build, tmp_path) == {"value": [1, 2, 3]}
    assert cached_pickle("thing", "k1", build, tmp_path) == {"value": [1, 2, 3]}
    assert len(calls) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thing-k1.pickle"]  # no temp file
    cached_pickle("thing", "k2", build, tmp_path)  # another key: built again
    assert len(calls) == 2
    (tmp_path / "thing-k1.pickle").write_bytes(b"not a pickle")
    assert cached_pickle("thing", "k1", build, tmp_path) == {"value": [1, 2, 3]}
    assert len(calls) == 3  # damaged: rebuilt and rewritten
    assert pickle.loads((tmp_path / "thing-k1.pickle").read_bytes()) == {"value": [1, 2, 3]}


def test_files_key_follows_the_contents(tmp_path):
    from manyshores.startup_cache import files_key

    f = tmp_path / "data.json"
    f.write_text("{}")
    first = files_key([f], ["lib 1.0"])
    assert files_key([f], ["lib 1.0"]) == first
    assert files_key([f], ["lib 1.1"]) != first
    f.write_text('{"a": 1}')
    assert files_key([f], ["lib 1.0"]) != first


def test_registry_and_index_read_back_equal_a_fresh_build(monkeypatch):
    from manyshores import cultures
    from manyshores.cultures import registry as culture_registry
    from manyshores.detection import detector, prebuilt
    from manyshores.detection.mentions import MentionIndex

    monkeypatch.setattr(culture_registry, "_registry", None)
    first = prebuilt.shared_registry()  # built, or read from this home's start-up cache
    monkeypatch.setattr(culture_registry, "_registry", None)
    cached = prebuilt.shared_registry()  # read back now
    assert cached is not first and cultures.get_registry() is cached  # the process-wide one
    index = prebuilt._indexes.get(cached)
    assert isinstance(index, MentionIndex)  # it came with the registry
    assert prebuilt.shared_index(cached) is index
    fresh = cultures.CultureRegistry()
    assert cached.ids() == fresh.ids()
    assert cached.normalize("Deutschland") == fresh.normalize("Deutschland") == "DEU"
    # Names, cities (GeoNames), festivals (holidays), dishes (the bank): as a fresh build finds.
    text = "Was essen Familien in Kenia und in Nairobi zu Diwali, und was essen Japaner? Bougatsa?"
    found = sorted((m.start, m.end, m.kind, tuple(m.cultures)) for m in index.find(text))
    built = prebuilt.build_index(fresh)
    again = sorted((m.start, m.end, m.kind, tuple(m.cultures)) for m in built.find(text))
    assert found == again
    assert {kind for _, _, kind, _ in found} == {"foreign", "city", "festival", "name", "dish"}
    posterior = detector.CultureDetector(registry=cached).detect("What do people in Kenya eat?")
    assert posterior["cultures"][0]["id"] == "KEN"
    # A registry built before the detector needed one is kept (one registry per process).
    monkeypatch.setattr(culture_registry, "_registry", None)
    own = cultures.get_registry()
    assert prebuilt.shared_registry() is own


def test_language_model_read_back_ranks_as_the_shipped_file():
    from py3langid.langid import MODEL_FILE
    from py3langid.langid import LanguageIdentifier as LangId

    from manyshores.detection import language

    language._load_model()  # writes the start-up cache if missing
    cached = language._load_model()
    shipped = LangId.from_model_file(MODEL_FILE, norm_probs=True)
    for text in ("Wie geht es dir heute?", "¿Qué comen en México?", "Bonjour à tous"):
        assert cached.rank(text)[:5] == shipped.rank(text)[:5]
