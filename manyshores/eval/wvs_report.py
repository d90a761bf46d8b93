"""Scoring WVS predictions per country and system, and the comparison plot."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from manyshores.eval.scores import country_scores

METRICS = ("spa", "jsd_align", "majority_acc")


def score_predictions(
    records: list[dict[str, Any]], data: dict[str, dict[str, list[float]]]
) -> dict[str, Any]:
    """`{system: {"countries": {country: scores}, "mean": scores}}`."""
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        grouped[r["system"]][r["country"]].append(r)
    report: dict[str, Any] = {}
    for system, by_country in grouped.items():
        per: dict[str, dict[str, float]] = {}
        for country, recs in sorted(by_country.items()):
            recs = sorted(recs, key=lambda r: r["qid"])
            per[country] = country_scores(
                [r["probs"] for r in recs],
                [data[country][r["qid"]] for r in recs],
                [r.get("choice") for r in recs],
            )
        mean = {m: sum(s[m] for s in per.values()) / len(per) for m in METRICS}
        report[system] = {"countries": per, "mean": mean}
    return report


def markdown_table(report: dict[str, Any]) -> str:
    lines = ["| system | spa | jsd_align | majority_acc |", "|---|---|---|---|"]
    for system, r in report.items():
        m = r["mean"]
        lines.append(
            f"| {system} | {m['spa']:.3f} | {m['jsd_align']:.3f} | {m['majority_acc']:.3f} |"
        )
    return "\n".join(lines)


def plot_report(report: dict[str, Any], path: Path, metric: str = "spa") -> None:
    """Grouped bars: one group per country, one bar per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = list(report)
    countries = sorted({c for r in report.values() for c in r["countries"]})
    width = 0.8 / max(1, len(systems))
    fig, ax = plt.subplots(figsize=(max(8, len(countries) * 0.7), 3.6), dpi=80)
    for i, s in enumerate(systems):
        vals = [report[s]["countries"].get(c, {}).get(metric, 0.0) for c in countries]
        ax.bar(
            [x + i * width for x in range(len(countries))],
            vals,
            width,
            label=f"{s} ({report[s]['mean'][metric]:.3f})",
        )
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(countries))], countries, fontsize=8)
    ax.set_ylabel(metric)
    ax.set_ylim(0.3, 0.9)
    ax.legend(fontsize=7, ncol=4, loc="upper left")
    ax.set_title(f"WVS {metric} per country and system (mean in legend)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a predictions file (a torn last line from an interrupted run is dropped)."""
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def complete_questions(
    records: list[dict[str, Any]], data: dict[str, dict[str, list[float]]], systems: list[str]
) -> set[str]:
    """Question ids for which `records` hold every (system, country) pair that `data` asks."""
    have = {(r["system"], r["country"], r["qid"]) for r in records}
    need: dict[str, list[str]] = {}
    for country, answers in data.items():
        for qid in answers:
            need.setdefault(qid, []).append(country)
    return {
        qid
        for qid, countries in need.items()
        if all((s, c, qid) in have for s in systems for c in countries)
    }


def write_jsonl(records: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
