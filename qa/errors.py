"""Errors the ask side raises; each carries the HTTP status the API maps it to."""

from index.errors import BadIndex, IndexNotFound, ModelMismatch, QAError

__all__ = ["QAError", "BadQuestion", "BadFilter", "ArticleNotFound", "IndexNotFound", "ModelMismatch", "BadIndex"]


class BadQuestion(QAError):
    status = 400


class BadFilter(QAError):
    status = 400


class ArticleNotFound(QAError):
    status = 404
