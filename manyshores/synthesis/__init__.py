"""Task-aware cultural data synthesis (CultureManager): plan, ground, teach, validate, keep.

`synthesize(SynthesisRequest(...), teacher, PassageSources(web=..., kb=...))` writes validated,
grounded, de-duplicated examples with provenance to a JSONL file, resumably;
`manyshores data synthesize` is the command-line front end. Task adapters trained on that data,
their generation and their routing live with the other experts (`manyshores.experts`).
"""

from manyshores.synthesis.ground import PassageSources
from manyshores.synthesis.pipeline import SynthesisReport, SynthesisRequest, synthesize
from manyshores.synthesis.plan import PlannedQuery, plan_queries
from manyshores.synthesis.teacher import (
    BaseModelTeacher,
    ChatModelTeacher,
    Teacher,
    teacher_from_settings,
)

__all__ = [
    "BaseModelTeacher",
    "ChatModelTeacher",
    "PassageSources",
    "PlannedQuery",
    "SynthesisReport",
    "SynthesisRequest",
    "Teacher",
    "plan_queries",
    "synthesize",
    "teacher_from_settings",
]
