"""Ask side of the news QA service: the Engine, retrieval, answers, evaluation and the `qa` CLI."""
