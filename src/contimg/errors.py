"""Errors meant for people.

Every error that reaches a user is a :class:`ContimgError` whose message says what
was wrong, with which file, group or value, and what to do. The CLI prints it on
one line and exits non-zero; the API turns it into a 4xx answer.
"""


class ContimgError(Exception):
    """A problem the user can act on; ``str(err)`` is the whole message."""


class NotFoundError(ContimgError):
    """A requested object (group, image, source, candidate...) does not exist."""


class ConflictError(ContimgError):
    """An object is not in a state that allows the request (a group that is not failed
    cannot be retried); the API answers 409."""


class SchemaMismatchError(ContimgError):
    """A database's schema matches no known revision; it is left untouched."""
