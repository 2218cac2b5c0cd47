"""Domain errors shared by the build and ask sides; the edges (HTTP, CLI) translate them."""


def rebuild_hint(root) -> str:
    """The end of every message about an index that cannot be read: the command that makes it again."""
    return f"rebuild it with `qa build PATH --index {root}`"


class QAError(Exception):
    """Base class for errors a user can fix; the message says what was wrong and what is allowed."""

    status = 400


class IndexNotFound(QAError):
    status = 503


class ModelMismatch(QAError):
    status = 409


class BadIndex(QAError):
    status = 503  # the service cannot answer until the index is rebuilt; the message names the command
