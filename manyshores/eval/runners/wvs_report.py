"""Reports of `manyshores eval wvs`: the table, the comparison plot, which questions a run has done."""

from __future__ import annotations

from pathlib import Path
from typing import Any


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
