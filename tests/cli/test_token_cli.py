"""``python -m health_api token`` as a subprocess on a temporary data directory: it prints one
token of this service (verified here with the service's own authority), or refuses with one
line and exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest

from health_api.config import load_settings
from health_api.tokens import build_authority


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    """A development environment whose data directory is ``tmp_path/data``."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("HEALTH_API_", "AWS_"))}
    return {
        **keep,
        "ENVIRONMENT": "development",
        "HEALTH_API_STORAGE": "sqlite",
        "HEALTH_API_SQLITE_PATH": str(tmp_path / "data" / "health.db"),
    }


def token_cli(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "health_api", "token", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _authority(environ: dict[str, str]):
    names = ("ENVIRONMENT", "HEALTH_API_SQLITE_PATH", "HEALTH_API_TOKEN_SIGNING_KEYS")
    return build_authority(load_settings({k: environ[k] for k in names if k in environ}))


def test_it_prints_one_token_of_this_service(environ, tmp_path) -> None:
    done = token_cli(environ, "--user", "u-ana")

    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert done.stdout == token + "\n"
    assert done.stderr == ""
    verified = _authority(environ).verify(token)
    assert (verified.user, verified.issuer) == ("u-ana", "health-api")
    assert verified.scopes == {"appointments", "sessions"}
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert verified.expires_at - time.time() == pytest.approx(900, abs=30)
    assert (tmp_path / "data" / "token-signing-key.pem").exists()


def test_json_output_scope_ttl_and_audience(environ) -> None:
    done = token_cli(
        environ,
        "--user",
        "clinic:u-ana",
        "--ttl",
        "120",
        "--scope",
        "sessions",
        "--audience",
        "https://mcp.clinic.example/mcp",
        "--json",
    )

    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert set(answer) == {"access_token", "token_type", "expires_in", "scope"}
    assert (answer["token_type"], answer["expires_in"], answer["scope"]) == (
        "Bearer",
        120,
        "sessions",
    )
    authority = _authority(environ)
    for audience in (None, "https://mcp.clinic.example/mcp"):
        verified = authority.verify(answer["access_token"], audience)
        assert (verified.user, verified.scopes) == ("clinic:u-ana", {"sessions"})


def test_both_scopes_may_be_named(environ) -> None:
    done = token_cli(environ, "--user", "u-ana", "--scope", "appointments sessions", "--json")

    assert json.loads(done.stdout)["scope"] == "appointments sessions"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--user", "ana pérez"), "--user: not a valid user id"),
        (("--user", "u" * 129), "--user: not a valid user id"),
        (("--user", "u-ana", "--ttl", "59"), "--ttl: must be between 60 and 3600 seconds"),
        (("--user", "u-ana", "--ttl", "3601"), "--ttl: must be between 60 and 3600 seconds"),
        (("--user", "u-ana", "--ttl", "soon"), "argument --ttl: invalid int value"),
        (("--user", "u-ana", "--scope", "admin"), "--scope: unknown scope 'admin'"),
        (("--user", "u-ana", "--scope", ""), "--scope: unknown scope"),
        (("--user", "u-ana", "--audience", "mcp"), "--audience: must be an http"),
        ((), "the following arguments are required: --user"),
    ],
)
def test_bad_arguments_are_refused_with_one_line(environ, args, says) -> None:
    done = token_cli(environ, *args)

    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("python -m health_api token: ")
    assert says in line


def test_the_ttl_bound_follows_the_maximum_lifetime(environ) -> None:
    environ["HEALTH_API_TOKEN_MAX_TTL_SECONDS"] = "600"

    too_long = token_cli(environ, "--user", "u-ana", "--ttl", "900")
    default = token_cli(environ, "--user", "u-ana", "--json")

    assert "--ttl: must be between 60 and 600 seconds" in too_long.stderr
    assert json.loads(default.stdout)["expires_in"] == 600


def test_a_service_without_signing_keys_refuses(environ) -> None:
    environ["ENVIRONMENT"] = "production"

    done = token_cli(environ, "--user", "u-ana")

    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "this service has no signing keys: set HEALTH_API_TOKEN_SIGNING_KEYS" in line


def test_a_configuration_error_is_one_line(environ) -> None:
    environ["HEALTH_API_TOKEN_MAX_TTL_SECONDS"] = "5"

    done = token_cli(environ, "--user", "u-ana")

    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "configuration error: HEALTH_API_TOKEN_MAX_TTL_SECONDS" in line


def test_the_mcp_public_url_is_an_audience_as_for_post_tokens(environ) -> None:
    environ["HEALTH_API_MCP_PUBLIC_URL"] = "https://mcp.clinic.example/mcp"

    done = token_cli(environ, "--user", "u-ana")

    claims = jwt.decode(done.stdout.strip(), options={"verify_signature": False})
    assert claims["aud"] == ["health-api", "https://mcp.clinic.example/mcp"]
