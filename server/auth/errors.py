"""The single exception every token check raises."""

from __future__ import annotations


class AuthError(Exception):
    """A token was refused; the message is for humans and never contains the token."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
