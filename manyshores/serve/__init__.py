"""`manyshores serve`: the culture graph behind an OpenAI-compatible HTTP API: one warm process,
or replicas on one PostgreSQL behind a load balancer (docs/serve.md).

from manyshores.serve import ServeConfig, create_app
app = create_app(CultureAssistant(), ServeConfig(api_keys=("secret",)))
# uvicorn.run(app, port=8000); then any OpenAI client with base_url=http://host:8000/v1
"""

from __future__ import annotations

from manyshores.serve.app import create_app
from manyshores.serve.config import ServeConfig

__all__ = ["ServeConfig", "create_app"]
