"""Turning files and datasets into knowledge-base `Document`s.

- `load_path`: JSONL (`{"text", "culture"?, "source"?, "lang"?, "kind"?}` per line), Markdown
  (split at headings, then into chunks) and plain text (split at blank lines, then chunks).
- `load_blend`: BLEnD files (`../shared/data/blend/`): one English passage per question and
  culture with the human answers, plus one in the local language, plus per-culture topic
  digests (the most frequent answers across about a dozen related questions); question ids
  are kept in the metadata so an evaluation can leave its own questions out.
- `load_wvs`: World Values Survey answer shares (`../shared/data/wvs/train.json`) as one
  statement per country and question.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from manyshores.blend_files import read_blend_dir
from manyshores.cultures import iso_name
from manyshores.errors import InvalidInputError
from manyshores.passages import MAX_GROUP, SNIPPET_CHARS, Document

CHUNK_CHARS = 800
"""Target passage length: long enough to carry a fact with its context, short for MiniLM."""
TEXT_SUFFIXES = {".txt", ".text"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}

CultureGuess = Callable[[str], str | None]

DIGEST_QUESTIONS = 12
"""Questions per topic digest on average (k-means over the question wording)."""
DIGEST_CHARS = SNIPPET_CHARS
"""A digest fits the snippet the graph keeps, so every answer it carries reaches the model."""


def chunk_text(text: str, max_chars: int = CHUNK_CHARS) -> list[str]:
    """Paragraph-aligned chunks of at most about `max_chars` (a long paragraph is cut at sentences)."""
    chunks: list[str] = []
    current = ""
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        if not para:
            continue
        pieces = [para] if len(para) <= max_chars else re.split(r"(?<=[.!?。])\s+", para)
        for piece in pieces:
            while len(piece) > max_chars:  # one enormous sentence: hard cut
                chunks.append(piece[:max_chars])
                piece = piece[max_chars:]
            if current and len(current) + 1 + len(piece) > max_chars:
                chunks.append(current)
                current = piece
            else:
                current = f"{current} {piece}".strip()
    if current:
        chunks.append(current)
    return chunks


def _markdown_sections(text: str) -> list[str]:
    sections: list[str] = []
    heading = ""
    body: list[str] = []
    for line in text.splitlines():
        if re.match(r"^#{1,6}\s", line):
            if body:
                sections.append("\n".join(body))
            heading = line.lstrip("#").strip()
            body = [heading + "."] if heading else []
        else:
            body.append(line)
    if body:
        sections.append("\n".join(body))
    return sections


def _resolve_culture(given: str | None, text: str, detect: CultureGuess | None, where: str) -> str:
    if given:
        return given
    guess = detect(text) if detect else None
    if not guess:
        raise InvalidInputError(
            f"{where}: no culture given and none could be detected; pass --culture ID"
        )
    return guess


def load_path(
    path: Path,
    culture: str | None = None,
    *,
    lang: str = "en",
    detect: CultureGuess | None = None,
) -> Iterator[Document]:
    """Documents from a file or (recursively) a directory of .jsonl/.md/.txt files."""
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and child.suffix.lower() in (
                TEXT_SUFFIXES | MARKDOWN_SUFFIXES | JSONL_SUFFIXES
            ):
                yield from load_path(child, culture, lang=lang, detect=detect)
        return
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file or directory")
    suffix = path.suffix.lower()
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: cannot read as UTF-8 text: {exc}") from exc
    if suffix in JSONL_SUFFIXES:
        yield from _load_jsonl(path, content, culture, lang, detect)
        return
    kind = "markdown" if suffix in MARKDOWN_SUFFIXES else "text"
    sections = _markdown_sections(content) if kind == "markdown" else [content]
    n = 0
    for section in sections:
        for chunk in chunk_text(section):
            c = _resolve_culture(culture, chunk, detect, f"{path} chunk {n}")
            yield Document(chunk, c, f"{path.name}#{n}", kind=kind, lang=lang)
            n += 1


def _load_jsonl(
    path: Path, content: str, culture: str | None, lang: str, detect: CultureGuess | None
) -> Iterator[Document]:
    for lineno, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path}:{lineno}: not JSON: {exc}") from exc
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError(f'{path}:{lineno}: needs a non-empty "text" field')
        for i, chunk in enumerate(chunk_text(text)):
            c = _resolve_culture(row.get("culture") or culture, chunk, detect, f"{path}:{lineno}")
            source = str(row.get("source") or f"{path.name}:{lineno}")
            yield Document(
                chunk,
                c,
                source if i == 0 else f"{source}#{i}",
                kind=str(row.get("kind") or "jsonl"),
                lang=str(row.get("lang") or lang),
                question_id=str(row.get("qid") or row.get("question_id") or ""),
            )


# --------------------------------------------------------------------------- BLEnD
def blend_answers(row: dict[str, Any], *, english: bool = True) -> list[str]:
    """Human answers of one BLEnD row, most common first, each annotation's variants joined."""
    annotations = sorted(row.get("annotations") or [], key=lambda a: -int(a.get("count", 0)))
    key = "en_answers" if english else "answers"
    return [" / ".join(a[key]) for a in annotations if a.get(key)]


def blend_documents(row: dict[str, Any], file_name: str) -> list[Document]:
    """The passages of one BLEnD row: English, plus the local language when it is not English."""
    culture = str(row["culture"])
    qid = str(row["id"])
    name = str(row.get("blend_name") or iso_name(culture)).replace("_", " ")
    source = f"blend:{file_name}#{qid}"
    docs: list[Document] = []
    en = blend_answers(row, english=True)
    if en:
        text = f"In {name}: {row['en_question']} People from {name} answer: {'; '.join(en)}."
        docs.append(Document(text, culture, source, kind="blend", lang="en", question_id=qid))
    lang = str(row.get("language") or "")
    local = blend_answers(row, english=False)
    if lang and lang != "en" and local and row.get("question"):
        text = f"{row['question']} — {'; '.join(local)}"
        docs.append(
            Document(text, culture, f"{source}:{lang}", kind="blend", lang=lang, question_id=qid)
        )
    return docs


def group_questions(
    texts: dict[str, str], size: int = MAX_GROUP, min_sim: float = 0.45
) -> list[list[str]]:
    """Partition question ids into groups of up to `size` semantically close questions.

    Greedy over ids in sorted order (deterministic): each unassigned question takes its most
    similar unassigned neighbours above `min_sim`. Singletons are dropped (the per-question
    passage already covers them).
    """
    import numpy as np

    from manyshores.memory.embeddings import embed

    ids = sorted(texts)
    if len(ids) < 2:
        return []
    vecs = np.asarray(embed([texts[i] for i in ids]), dtype=np.float32)
    sim = vecs @ vecs.T
    free = np.ones(len(ids), dtype=bool)
    groups: list[list[str]] = []
    for i in range(len(ids)):
        if not free[i]:
            continue
        free[i] = False
        order = [j for j in np.argsort(-sim[i]) if free[j] and sim[i, j] >= min_sim]
        members = [i, *order[: size - 1]]
        for j in members:
            free[j] = False
        if len(members) > 1:
            groups.append([ids[j] for j in members])
    return groups


def blend_group_document(rows: list[dict[str, Any]], file_name: str) -> Document | None:
    """One passage with the top answers of several related questions of one culture."""
    parts = []
    for row in rows:
        answers = blend_answers(row)[:3]
        if answers:
            parts.append(f"{row['en_question']} {', '.join(answers)}.")
    if len(parts) < 2:
        return None
    culture = str(rows[0]["culture"])
    name = str(rows[0].get("blend_name") or iso_name(culture)).replace("_", " ")
    ids = tuple(str(r["id"]) for r in rows)
    return Document(
        f"In {name}, answers people gave to related questions: {' '.join(parts)}",
        culture,
        f"blend:{file_name}#group:{'+'.join(ids)}",
        kind="blend-group",
        lang="en",
        group_ids=ids,
    )


def strip_place(text: str, names: Iterable[str]) -> str:
    """`text` without the place names ("... for kids in Algeria?" → "... for kids?"): the
    culture filter already says where, and the name only pulls all of a culture's questions
    together."""
    for name in names:
        if not name:
            continue
        n = re.escape(name)
        text = re.sub(
            rf"\b(?:in|of|from|for|at|to|across) (?:the )?{n}(?:'s)?(?!\w)", "", text, flags=re.I
        )
        text = re.sub(rf"(?<!\w)(?:the )?{n}(?:'s)?(?!\w)", "", text, flags=re.I)
    return " ".join(text.split()).replace(" ?", "?").replace(" .", ".")


def cluster_questions(
    texts: dict[str, str], size: int = DIGEST_QUESTIONS, iterations: int = 20
) -> list[tuple[list[str], list[float]]]:
    """Topic clusters of about `size` questions: `(ids, unit centroid)` per cluster.

    Spherical k-means over the MiniLM embeddings of the (place-free) wordings, started from
    farthest-point seeds in sorted id order, so the same questions always give the same clusters.
    """
    import numpy as np

    from manyshores.memory.embeddings import embed

    ids = sorted(texts)
    if len(ids) < 2:
        return []
    x = np.asarray(embed([texts[i] for i in ids]), dtype=np.float32)
    k = max(1, min(len(ids), round(len(ids) / max(size, 1))))
    seeds = [0]
    dist = 1.0 - x @ x[0]
    for _ in range(1, k):
        seeds.append(int(np.argmax(dist)))
        dist = np.minimum(dist, 1.0 - x @ x[seeds[-1]])
    centres = x[seeds].copy()
    for _ in range(iterations):
        labels = np.argmax(x @ centres.T, axis=1)
        for j in range(k):
            members = x[labels == j]
            if len(members):
                v = members.sum(axis=0)
                centres[j] = v / max(float(np.linalg.norm(v)), 1e-9)
    labels = np.argmax(x @ centres.T, axis=1)
    out = []
    for j in range(k):
        members = [ids[i] for i in np.flatnonzero(labels == j)]
        if len(members) > 1:
            out.append((members, centres[j].tolist()))
    return out


def ranked_answers(rows: list[dict[str, Any]]) -> list[str]:
    """English answers over several questions: named by the most questions first, then by
    annotators; each answer once (its first English wording)."""
    questions: dict[str, set[str]] = {}
    votes: dict[str, int] = {}
    shown: dict[str, str] = {}
    for row in rows:
        for ann in row.get("annotations") or []:
            en = [str(a).strip() for a in ann.get("en_answers") or [] if str(a).strip()]
            if not en:
                continue
            key = en[0].lower()
            shown.setdefault(key, en[0])
            questions.setdefault(key, set()).add(str(row["id"]))
            votes[key] = votes.get(key, 0) + int(ann.get("count", 1))
    order = sorted(shown, key=lambda a: (-len(questions[a]), -votes[a], a))
    return [shown[a] for a in order]


def blend_digest_document(
    rows: list[dict[str, Any]],
    file_name: str,
    vector: Sequence[float] | None = None,
    *,
    max_chars: int = DIGEST_CHARS,
) -> Document | None:
    """A culture's most frequent answers across related questions, in one passage.

    Indexed by `vector` (the centroid of the questions' wording) when given: the passage is a
    list of answers, so its own embedding says little about which questions it serves.
    """
    rows = [r for r in rows if r.get("annotations")]
    if len(rows) < 2:
        return None
    culture = str(rows[0]["culture"])
    name = str(rows[0].get("blend_name") or iso_name(culture)).replace("_", " ")
    text = f"In {name}, answers people gave to related questions:"
    first = True
    for answer in ranked_answers(rows):
        piece = f"{' ' if first else ', '}{answer}"
        if len(text) + len(piece) + 1 > max_chars:
            break
        text += piece
        first = False
    if first:
        return None
    ids = tuple(sorted(str(r["id"]) for r in rows))
    key = hashlib.sha256("+".join(ids).encode()).hexdigest()[:12]
    return Document(
        text + ".",
        culture,
        f"blend:{file_name}#digest:{key}",
        kind="blend-digest",
        lang="en",
        members=ids,
        vector=tuple(float(v) for v in vector) if vector is not None else None,
    )


def load_blend(
    directory: Path,
    *,
    groups: bool = False,
    digests: bool = True,
    question_ids: Collection[str] | None = None,
) -> Iterator[Document]:
    """Every passage of every BLEnD file in `directory` (only `question_ids` when given).

    Per question and culture: an English and a local-language passage. With `digests`, also
    per culture one topic digest per cluster of about DIGEST_QUESTIONS related questions
    (clustered once over all files by their place-free English wording), so a question the base
    has no passage for still finds the answers its culture gave to a dozen neighbouring
    questions in one passage. With `groups`, the older passages of up to MAX_GROUP related
    questions with each question's top answers.
    """
    files = read_blend_dir(directory)
    if question_ids is not None:
        keep = set(question_ids)
        files = [(p, [r for r in rows if str(r["id"]) in keep]) for p, rows in files]
    for path, rows in files:
        for row in rows:
            yield from blend_documents(row, path.name)
    texts: dict[str, str] = {}
    for _, rows in files:
        for row in rows:
            name = str(row.get("blend_name") or "").replace("_", " ")
            question = str(row.get("en_question") or row.get("question"))
            texts.setdefault(str(row["id"]), strip_place(question, [name]))
    if digests:
        for members, centre in cluster_questions(texts):
            for path, rows in files:
                by_id = {str(r["id"]): r for r in rows}
                doc = blend_digest_document(
                    [by_id[q] for q in members if q in by_id], path.name, centre
                )
                if doc is not None:
                    yield doc
    if not groups:
        return
    for group in group_questions(texts):
        for path, rows in files:
            by_id = {str(r["id"]): r for r in rows}
            group_rows = [by_id[q] for q in group if q in by_id]
            doc = blend_group_document(group_rows, path.name) if len(group_rows) > 1 else None
            if doc is not None:
                yield doc


# --------------------------------------------------------------------------- WVS
def wvs_statement(name: str, question: dict[str, Any], shares: list[float]) -> str:
    """`In Kenya (World Values Survey 7), asked "...": 91% Very important, ...`."""
    parts = [
        f"{round(100 * s)}% {opt}" for opt, s in zip(question["options"], shares, strict=False)
    ]
    top = max(range(len(shares)), key=lambda i: shares[i])
    return (
        f'In {name} (World Values Survey wave 7), asked "{question["question"]}": '
        f"{', '.join(parts)}. Most common answer: {question['options'][top]}."
    )


def load_wvs(directory: Path, split: str = "train") -> Iterator[Document]:
    """One statement per country and question of the given split (train by default)."""
    try:
        questions = {
            q["id"]: q
            for q in json.loads((directory / "questions.json").read_text(encoding="utf-8"))
        }
        answers = json.loads((directory / f"{split}.json").read_text(encoding="utf-8"))
        names_file = directory / "countries.json"
        names = json.loads(names_file.read_text(encoding="utf-8")) if names_file.exists() else {}
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"{directory}: not a WVS data directory: {exc}") from exc
    for country, by_question in sorted(answers.items()):
        name = names.get(country) or iso_name(country)
        for qid, shares in by_question.items():
            question = questions.get(qid)
            if question is None or not shares:
                continue
            yield Document(
                wvs_statement(name, question, shares),
                country,
                f"wvs7:{country}:{qid}",
                kind="survey",
                lang="en",
                question_id=qid,
            )
