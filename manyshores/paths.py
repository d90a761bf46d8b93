"""Where the data shipped inside the package lives: every path written once, here."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DATA = Path(__file__).resolve().parent / "data"
"""The package's data folder (attribution and licences in its READMEs)."""

PACKAGE_WVS = PACKAGE_DATA / "wvs"
"""World Values Survey wave 7 shares: questions, countries, the training split, survey vectors."""
PACKAGE_BLEND = PACKAGE_DATA / "blend"
"""BLEnD questions with their human answers, one file per culture (the training half)."""
PACKAGE_EXPERTS = PACKAGE_DATA / "experts"
"""The default culture experts (one folder each) and their calibration."""
PACKAGE_CULTURES = PACKAGE_DATA / "cultures"
"""Curated culture facts CLDR lacks and the survey similarity table."""
PACKAGE_DETECT = PACKAGE_DATA / "detect"
"""Hand-written detection cases."""
PACKAGE_EVIDENCE = PACKAGE_DATA / "evidence"
"""The evidence ranker, question metric, question vectors and names it reads."""
SHIPPED_PASSAGE_VECTORS = PACKAGE_DATA / "kb" / "passages_minilm.npz"
"""Text key → float16 MiniLM vector of every shipped passage embedded from its own text."""

SURVEY_FILE = "survey.json"
"""The training survey an expert keeps in its own folder (read back by survey memory)."""
