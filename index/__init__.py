"""Build side of the news QA service: articles in, an on-disk hybrid index out."""
