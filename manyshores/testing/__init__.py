"""Local stand-ins for the network services manyshores talks to, shipped for users too.

- `tavily_server.TavilyTestServer`: a small HTTP server speaking Tavily's `/search` JSON, so web
  search runs offline through the real client (`tavily_base_url`); with `blend_pages` it serves
  pages built from BLEnD rows (`examples/blend_pages_server.py`).
- `chroma_server.ChromaServer`: a real `chroma run` server on a free port, to try the
  knowledge base in client/server mode (`chroma_url`) without deploying one.
- `postgres.ThrowawayPostgres`: a private PostgreSQL cluster from the local server binaries.
- `balancer.HAProxyBalancer` and `replicas.ReplicaProcess`: `manyshores serve` replicas behind
  a real HAProxy (health checks, taking a dead replica out), started, killed and drained, as
  `bench serve --replicas` and the replica tests run them.

They stay in the package because users run them (offline demos, their own integration tests);
helpers only the project's tests need (the tiny random model, protocol fakes) live in `tests/`.
"""
