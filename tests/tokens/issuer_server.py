"""A real OIDC issuer on 127.0.0.1 for the tests: ``http.server`` in a thread serving
``/.well-known/openid-configuration`` and its ``jwks_uri``; the test changes the keys it
publishes (rotation, retirement), what it answers (not JSON, too big) or stops it."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


@dataclass
class IssuerKey:
    """One key of the issuer: its ``kid``, algorithm and private half."""

    kid: str
    alg: str
    private: Any

    @classmethod
    def new(cls, kid: str, alg: str) -> IssuerKey:
        if alg == "RS256":
            return cls(kid, alg, rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return cls(kid, alg, ec.generate_private_key(ec.SECP256R1()))

    def jwk(self) -> dict:
        algorithm = RSAAlgorithm if self.alg == "RS256" else ECAlgorithm
        return {**json.loads(algorithm.to_jwk(self.private.public_key())), "kid": self.kid}

    def sign(self, issuer: str, audience: str = "health-api", **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": issuer, "sub": "u-ana", "aud": audience, "iat": now, "exp": now + 600}
        body.update(claims)
        return jwt.encode(body, self.private, self.alg, {"kid": self.kid})


@dataclass
class Issuer:
    """The running issuer: its ``url``, the keys it publishes, what it answers, its hits."""

    server: ThreadingHTTPServer
    keys: list[IssuerKey] = field(default_factory=list)
    jwks_body: bytes | None = None  # set to serve something else than the keys
    hits: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_issuer() -> Issuer:
    """An issuer serving in a daemon thread (stop it with ``Issuer.stop``)."""
    issuer: Issuer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            issuer.hits.append(self.path)
            if self.path == "/.well-known/openid-configuration":
                body = json.dumps({"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"})
                self._send(body.encode())
            elif self.path == "/jwks":
                keys = {"keys": [k.jwk() for k in issuer.keys]}
                self._send(issuer.jwks_body or json.dumps(keys).encode())
            else:
                self.send_error(404)

        def _send(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    issuer = Issuer(server)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return issuer
