"""Build the one DynamoDB client a process uses, and turn botocore failures into domain errors.

The client is built by the storage factory (or the CLI) after gunicorn forks, never at import time.
botocore's ``standard`` retry mode retries throttling and transient 5xx with jittered backoff; the
timeouts are bounded so that a request gives up well before gunicorn's worker timeout.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from health_api.domain.errors import StorageAccessError, StorageUnavailableError

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
    }
)
CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "MissingAuthenticationTokenException",
        "InvalidClientTokenId",
    }
)


def build_client(
    region: str,
    endpoint_url: str | None = None,
    *,
    connect_timeout: float = 2.0,
    read_timeout: float = 5.0,
    max_attempts: int = 3,
    max_pool_connections: int = 32,
) -> Any:
    """A DynamoDB client with standard retries and bounded timeouts.

    With the defaults the worst case is 3 attempts x (2 s + 5 s) plus backoff: about 22 s,
    inside gunicorn's 30 s timeout.
    """
    config = Config(
        region_name=region,
        # total_max_attempts counts the first try too (max_attempts would mean retries).
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=max_pool_connections,
        tcp_keepalive=True,
    )
    return boto3.session.Session().client("dynamodb", endpoint_url=endpoint_url, config=config)


def known_region(region: str) -> bool:
    """True when botocore knows ``region`` for DynamoDB in any partition."""
    session = boto3.session.Session()
    for partition in session.get_available_partitions():
        if region in session.get_available_regions("dynamodb", partition_name=partition):
            return True
    return False


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError (``""`` when absent)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def translate(exc: Exception, *, region: str | None = None, endpoint_url: str | None = None):
    """Map a botocore exception to a domain error (returned, for ``raise ... from exc``).

    The message names the cause in operator terms and never repeats the backend's own text.
    """
    if endpoint_url and ".amazonaws.com" in endpoint_url:
        endpoint_url = None  # botocore's own AWS endpoint, not one the operator chose
    where = endpoint_url or (f"DynamoDB in {region}" if region else "DynamoDB")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return StorageAccessError("no_credentials", "no AWS credentials were found")
    if isinstance(exc, NoRegionError):
        return StorageAccessError("unknown_region", "no AWS region is configured")
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ConnectionClosedError):
        if endpoint_url is None and region and not known_region(region):
            return StorageAccessError("unknown_region", f"region {region} is not known to AWS")
        return StorageAccessError("unreachable", f"cannot connect to {where}")
    if isinstance(exc, ReadTimeoutError):
        return StorageAccessError("unreachable", f"{where} did not answer in time")
    if isinstance(exc, ClientError):
        code = error_code(exc)
        if code in THROTTLING_CODES:
            return StorageAccessError("throttled", "DynamoDB is throttling requests")
        if code in CREDENTIAL_CODES:
            return StorageAccessError("invalid_credentials", f"{where} rejected the credentials")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in {"AccessDeniedException", "AccessDenied"} or status == 403:
            # A bare 403 (a proxy, or moto's XML error body) is a refusal too; look inside it
            # for a credentials code before calling it a missing permission.
            message = str(exc.response.get("Error", {}).get("Message", ""))
            if any(c in message for c in CREDENTIAL_CODES):
                return StorageAccessError(
                    "invalid_credentials", f"{where} rejected the credentials"
                )
            return StorageAccessError("access_denied", f"{where} denied the request")
        if code == "ResourceInUseException":
            return StorageAccessError("in_use", "the table is in use (it exists or is changing)")
        if status >= 500:
            return StorageUnavailableError(f"{where} failed ({code or status})")
        return StorageUnavailableError(f"{where} refused the request ({code})")
    if isinstance(exc, BotoCoreError):
        return StorageUnavailableError(f"{where} failed ({type(exc).__name__})")
    return exc
