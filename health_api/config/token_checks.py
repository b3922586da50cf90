"""The checks of the patient-token settings (API.md v1.2 "Patient tokens"): each field's own
check (merged into ``checks.CHECKS``) and ``check_token_settings``, the rules that tie several
fields together. Both run when the settings are built, so a bad token setting stops start-up
with a one-line :class:`ConfigError` naming the variable, never the first request."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from health_api.config.parsing import FIELDS
from health_api.config.values import MIN_HS256_SECRET_BYTES, TOKEN_MAX_TTL_RANGE, ConfigError
from health_api.domain.caller import AGENT_ACCESS_MODES
from health_api.domain.ids import is_valid_id

_HTTP_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")


def _check_agent_access(value: str) -> str | None:
    if value not in AGENT_ACCESS_MODES:
        return f"must be one of {', '.join(AGENT_ACCESS_MODES)}, got {value!r}"
    return None


def _check_max_ttl(value: int) -> str | None:
    low, high = TOKEN_MAX_TTL_RANGE
    if not low <= value <= high:
        return f"must be between {low} and {high} seconds, got {value}"
    return None


def _check_hs256_secret(value: str | None) -> str | None:
    # Never echo the secret itself, not even in an error.
    if value is not None and len(value.encode()) < MIN_HS256_SECRET_BYTES:
        return (
            f"must be at least {MIN_HS256_SECRET_BYTES} bytes "
            "(for example: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return None


def _check_url(value: str | None) -> str | None:
    if value is not None and not _HTTP_URL.match(value):
        return f"must be an http:// or https:// URL, got {value[:60]!r}"
    return None


def _check_trusted_issuers(value: tuple[tuple[str, str], ...]) -> str | None:
    seen: set[str] = set()
    for prefix, url in value:
        # The prefix starts the user ids the issuer binds ("<prefix>:<sub>"): an id itself,
        # without the ':' that separates it from the subject.
        if ":" in prefix or not is_valid_id(prefix):
            return (
                f"the prefix {prefix[:40]!r} must be 1-128 ASCII letters, digits or . _ - @ + "
                "(no ':')"
            )
        if prefix in seen:
            return f"the prefix {prefix!r} names two issuers"
        seen.add(prefix)
        if not _HTTP_URL.match(url):
            return f"the issuer of {prefix!r} must be an http(s) URL, got {url[:60]!r}"
    return None


CHECKS: dict[str, Callable[[Any], str | None]] = {
    "agent_access": _check_agent_access,
    "token_max_ttl_seconds": _check_max_ttl,
    "token_hs256_secret": _check_hs256_secret,
    "token_trusted_issuers": _check_trusted_issuers,
    "mcp_public_url": _check_url,
    "token_issuer": lambda v: None if v else "must name this service's token issuer",
    "token_audience": lambda v: None if v else "must name the audience of this service's tokens",
}


def check_token_settings(values: dict[str, Any], source: dict[str, str]) -> None:
    """The rules between token settings: an HS256 secret needs its own issuer name (other than
    this service's), and outside development every external issuer is reached over https."""

    def label(name: str) -> str:
        return source.get(name, FIELDS[name][0][0])

    secret, hs256_issuer = values["token_hs256_secret"], values["token_hs256_issuer"]
    if secret is not None and not hs256_issuer:
        raise ConfigError(
            f"{label('token_hs256_issuer')}: required with {label('token_hs256_secret')} "
            "(the iss of the chatbot backend's tokens)"
        )
    if hs256_issuer and hs256_issuer == values["token_issuer"]:
        raise ConfigError(
            f"{label('token_hs256_issuer')}: must differ from {label('token_issuer')} "
            f"(both are {hs256_issuer!r})"
        )
    issuers = {url.rstrip("/") for _prefix, url in values["token_trusted_issuers"]}
    if values["token_issuer"] in issuers or (hs256_issuer and hs256_issuer in issuers):
        raise ConfigError(
            f"{label('token_trusted_issuers')}: an external issuer has the name of this "
            "service's issuer or of the HS256 issuer"
        )
    development = values["environment"].lower() == "development"
    for prefix, url in values["token_trusted_issuers"]:
        if not development and not url.startswith("https://"):
            raise ConfigError(
                f"{label('token_trusted_issuers')}: the issuer of {prefix!r} must be an "
                f"https:// URL outside development (ENVIRONMENT={values['environment']})"
            )
