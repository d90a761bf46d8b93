"""One module per graph node: detect, retrieve, route, expert, aggregate, respond."""
