"""Create, validate or remove the Health Assistant API's DynamoDB tables.

A thin command-line layer over ``health_api.storage.dynamodb.admin``: the tests call the same
functions. Run ``python setup_tables.py --help`` for the whole story.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from health_api.config import ConfigError, Settings, load_settings
from health_api.domain.errors import StorageAccessError, StorageUnavailableError
from health_api.storage.dynamodb import admin
from health_api.storage.dynamodb.client import build_client
from health_api.storage.iam import service_policy, setup_policy
from health_api.storage.tables import table_specs

EXIT_OK, EXIT_DIFFERENT, EXIT_USAGE, EXIT_AWS = 0, 1, 2, 3

DESCRIPTION = """\
Create the DynamoDB tables of the Health Assistant API (doctores, horarios_doctores with its
sparse user_id-index, user_sessions and idempotency_keys with TTL on `ttl`), check them, or
remove them.

With no flag: create every missing table (PAY_PER_REQUEST, GSIs, tags Application and
Environment), wait until ACTIVE and enable TTL. Existing tables are skipped and not touched, so a
second run changes nothing and exits 0.

Table names, region and endpoint come from the same settings as the service
(HEALTH_API_TABLE_PREFIX, HEALTH_API_TABLE_<NAME>, AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB,
ENVIRONMENT, or the TOML file in HEALTH_API_CONFIG); flags override them.
Credentials come from the standard AWS chain."""

EPILOG = """\
exit codes: 0 done / all tables match; 1 a table differs from its spec, or --force met an
existing table; 2 bad usage or configuration; 3 AWS could not be reached or refused the request.

examples:
  python setup_tables.py                                   create what is missing
  python setup_tables.py --validate                        check, change nothing
  python setup_tables.py --endpoint-url http://127.0.0.1:8002   DynamoDB Local (see README)
  python setup_tables.py --print-iam-policy --account-id 123456789012
  ENVIRONMENT=development python setup_tables.py --delete --yes"""

EXPLANATIONS = {
    "no_credentials": (
        "No AWS credentials were found (botocore: 'Unable to locate credentials'). Give them in "
        "one of three ways: (1) the environment variables AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for temporary ones); (2) a profile in "
        "~/.aws/credentials or ~/.aws/config chosen with AWS_PROFILE (`aws configure` or "
        "`aws sso login` writes one); (3) an IAM role of the machine: an EC2 instance profile, "
        "an ECS task role or an EKS service-account role. Against a local endpoint (DynamoDB "
        "Local, moto) any non-empty pair works, e.g. AWS_ACCESS_KEY_ID=local "
        "AWS_SECRET_ACCESS_KEY=local."
    ),
    "invalid_credentials": (
        "AWS rejected the credentials (unknown key id, bad secret or an expired session token). "
        "Check which identity is in use (`aws sts get-caller-identity`), refresh temporary "
        "credentials (`aws sso login`), or unset stale AWS_* variables that shadow your profile."
    ),
    "access_denied": (
        "AWS denied the request (AccessDeniedException): the identity in use lacks a permission "
        "on these tables. Creating needs dynamodb:CreateTable, DescribeTable, UpdateTimeToLive, "
        "DescribeTimeToLive, TagResource and ListTagsOfResource; --validate needs only "
        "DescribeTable, DescribeTimeToLive and ListTagsOfResource; --delete also needs "
        "DeleteTable. `python setup_tables.py --print-iam-policy` prints a least-privilege "
        "policy for exactly the configured tables."
    ),
    "unreachable": (
        "The DynamoDB endpoint could not be reached. With --endpoint-url / "
        "AWS_ENDPOINT_URL_DYNAMODB, check the URL and that the server runs. To run AWS's "
        "DynamoDB Local from a checkout (no Docker; in memory, on port 8002), start "
        "`.venv/bin/python -m tools.dynamodb_local serve` in one shell and in another "
        "`AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1 "
        ".venv/bin/python setup_tables.py --endpoint-url http://127.0.0.1:8002` (DynamoDB "
        "Local takes any non-empty credentials, but needs some). `docker compose up "
        "dynamodb-local` publishes the same port; moto: `moto_server -p 8002`. Against AWS, "
        "check the network, proxy settings (HTTPS_PROXY) and the region."
    ),
    "unknown_region": (
        "The region is not one where DynamoDB exists, so its endpoint does not resolve. Give a "
        "real region with --region or AWS_REGION (for example us-east-1, eu-west-1, "
        "eu-south-2), or an --endpoint-url for a local server."
    ),
    "throttled": (
        "DynamoDB throttled the table-management requests (too many at once in this account). "
        "Wait a minute and run the command again; it is safe to repeat."
    ),
    "in_use": (
        "A table is being created, changed or deleted by someone else right now. Wait until it "
        "is ACTIVE (or gone) and run the command again."
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the tests and for --help)."""
    parser = argparse.ArgumentParser(
        prog="setup_tables.py",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--validate",
        action="store_true",
        help="change nothing; exit 0 when every table matches its spec, 1 with one "
        "line per difference otherwise (needs read permissions only)",
    )
    mode.add_argument(
        "--force",
        action="store_true",
        help="send CreateTable even for existing tables; each one is reported "
        "(ResourceInUseException) and the exit is 1",
    )
    mode.add_argument(
        "--delete",
        action="store_true",
        help="delete the configured tables (development clean-up); needs --yes and "
        "never runs when ENVIRONMENT=production",
    )
    mode.add_argument(
        "--print-iam-policy",
        action="store_true",
        help="print least-privilege IAM policies for the service and for this "
        "script, for exactly the configured tables; calls no AWS API",
    )
    parser.add_argument("--yes", action="store_true", help="confirm --delete")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION, else us-east-1)")
    parser.add_argument(
        "--endpoint-url",
        help="a local endpoint such as http://127.0.0.1:8002 (default: "
        "AWS_ENDPOINT_URL_DYNAMODB or DYNAMODB_ENDPOINT_URL; unset = AWS)",
    )
    parser.add_argument(
        "--account-id",
        default="*",
        help="account id for the ARNs of --print-iam-policy (default: *)",
    )
    parser.add_argument("--json", action="store_true", help="print a machine-readable report")
    parser.add_argument(
        "--wait-delay",
        type=int,
        default=2,
        metavar="SECONDS",
        help="seconds between ACTIVE checks while waiting (default: 2)",
    )
    return parser


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the CLI; returns the exit code (see the epilog of --help)."""
    out, err = out or sys.stdout, err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args, os.environ if environ is None else environ)
    except ConfigError as exc:
        print(f"setup_tables.py: configuration error: {exc}", file=err)
        return EXIT_USAGE
    specs = list(table_specs(settings).values())
    if args.print_iam_policy:
        return _print_policies(args, settings, specs, out)
    if args.delete and settings.is_production:
        print(
            "setup_tables.py: refused: --delete never runs with ENVIRONMENT="
            f"{settings.environment}.",
            file=err,
        )
        return EXIT_USAGE
    if args.delete and not args.yes:
        names = ", ".join(s.name for s in specs)
        print(
            f"setup_tables.py: refused: --delete would drop {names} in "
            f"{settings.aws_region}; add --yes to confirm.",
            file=err,
        )
        return EXIT_USAGE
    client = build_client(
        settings.aws_region, settings.dynamodb_endpoint_url, connect_timeout=3, read_timeout=10
    )
    try:
        return _run(args, settings, client, specs, out)
    except StorageUnavailableError as exc:
        kind = exc.kind if isinstance(exc, StorageAccessError) else "unreachable"
        print(f"setup_tables.py: {exc}.\n\n{EXPLANATIONS[kind]}", file=err)
        return EXIT_AWS
    except TimeoutError as exc:
        print(
            f"setup_tables.py: {exc}. Run the command again: it resumes where it stopped.", file=err
        )
        return EXIT_AWS


def _settings(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    settings = load_settings(environ)
    changes: dict[str, Any] = {}
    if args.region:
        changes["aws_region"] = args.region
    if args.endpoint_url:
        changes["dynamodb_endpoint_url"] = args.endpoint_url
    labels = {"aws_region": "--region", "dynamodb_endpoint_url": "--endpoint-url"}
    return settings.replace(labels=labels, **changes) if changes else settings


def _run(args, settings: Settings, client: Any, specs, out: TextIO) -> int:
    where = settings.dynamodb_endpoint_url or f"AWS {settings.aws_region}"
    if args.validate:
        reports = admin.validate_tables(client, specs)
        ok = all(r.ok for r in reports)
        if args.json:
            _dump(
                {
                    "action": "validate",
                    "endpoint": where,
                    "ok": ok,
                    "tables": [r.to_dict() for r in reports],
                },
                out,
            )
        else:
            for report in reports:
                _print_report(report, out)
            bad = sum(not r.ok for r in reports)
            print(
                f"{len(reports)} tables checked on {where}: {len(reports) - bad} match, "
                f"{bad} differ",
                file=out,
            )
        return EXIT_OK if ok else EXIT_DIFFERENT
    waiting = admin.Waiting(delay=max(1, args.wait_delay))
    if args.delete:
        results = admin.delete_tables(client, specs, waiting=waiting)
    else:
        results = admin.create_tables(client, specs, force=args.force, waiting=waiting)
    failed = any(r.failed for r in results)
    if args.json:
        _dump(
            {
                "action": "delete" if args.delete else "create",
                "endpoint": where,
                "ok": not failed,
                "tables": [r.to_dict() for r in results],
            },
            out,
        )
    else:
        for result in results:
            print(_result_line(result), file=out)
    return EXIT_DIFFERENT if failed else EXIT_OK


def _print_report(report, out: TextIO) -> None:
    if report.ok:
        print(f"ok     {report.name} ({report.logical})", file=out)
    for difference in report.differences:
        print(f"DIFF   {report.name}: {difference}", file=out)
    for note in report.notes:
        print(f"note   {report.name}: {note}", file=out)


def _result_line(result: admin.TableResult) -> str:
    text = f"{result.action:<8} {result.name}"
    if result.action == "created":
        text += ": ACTIVE"
    elif result.action == "skipped":
        text += ": exists, not touched"
        if result.report is not None and result.report.differences:
            count = len(result.report.differences)
            text += f" ({count} difference(s) from the spec: run --validate)"
    if result.detail:
        text += f" ({result.detail})" if result.action == "skipped" else f": {result.detail}"
    return text


def _print_policies(args, settings: Settings, specs, out: TextIO) -> int:
    # China and GovCloud regions have partitions of their own (arn:aws-cn:..., arn:aws-us-gov:...).
    partition = admin.partition_of(settings.aws_region)
    policies = {
        "service": service_policy(specs, settings.aws_region, args.account_id, partition=partition),
        "setup": setup_policy(specs, settings.aws_region, args.account_id, partition=partition),
    }
    if args.json:
        _dump(policies, out)
        return EXIT_OK
    print("# Policy for the API service's role (items, GSI queries, readiness checks):", file=out)
    _dump(policies["service"], out)
    print(
        "\n# Policy for setup_tables.py (create + --validate; --delete also needs "
        "dynamodb:DeleteTable):",
        file=out,
    )
    _dump(policies["setup"], out)
    return EXIT_OK


def _dump(data: Any, out: TextIO) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False), file=out)


if __name__ == "__main__":
    sys.exit(main())
