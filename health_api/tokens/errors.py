"""The one error of token verification (its own module: the JWKS cache raises it too)."""

from __future__ import annotations


class InvalidTokenError(Exception):
    """The bearer is no valid user token; ``reason`` says why in a fixed phrase.

    ``counts_as_failure``: whether the per-address limit of failed authentications counts it.
    A token refused before its signature was found good (malformed, unknown issuer or key, bad
    signature) is a guess, counted like an unknown key; one refused after (not valid yet,
    another audience, a missing claim, a bad ``sub``) was really issued to the client, and an
    expired one (refused before any signature check) can never pass: neither is counted, so a
    client whose token just expired does not lock out its address.
    """

    def __init__(self, reason: str, *, counts_as_failure: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.counts_as_failure = counts_as_failure
