"""``python -m reliability.storm``: the command line of the storms (see the package)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import reliability.storm
from reliability.storm.runner import run, summary
from reliability.storm.server import Config


def main(argv: list[str] | None = None) -> int:
    defaults = Config()
    parser = argparse.ArgumentParser(
        prog="python -m reliability.storm",
        description=reliability.storm.__doc__.split("\n\n")[0],
    )
    parser.add_argument("--backend", choices=("sqlite", "dynamodb"), default=defaults.backend)
    parser.add_argument(
        "--dynamodb-engine",
        choices=("dynamodb-local", "moto"),
        default=defaults.dynamodb_engine,
        help="what serves DynamoDB: AWS's DynamoDB Local (default) or moto's server",
    )
    parser.add_argument(
        "--dynamodb-endpoint", default=None, help="use this running DynamoDB Local instead"
    )
    parser.add_argument("--clients", type=int, default=defaults.clients)
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--churn-clients", type=int, default=defaults.churn_clients)
    parser.add_argument("--churn-iterations", type=int, default=defaults.churn_iterations)
    parser.add_argument("--reschedule-users", type=int, default=defaults.reschedule_users)
    parser.add_argument("--reschedule-free", type=int, default=defaults.reschedule_free)
    parser.add_argument("--reschedule-iterations", type=int, default=defaults.reschedule_iterations)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the server logs here")
    args = parser.parse_args(argv)
    if args.workers < 2:
        parser.error("--workers must be at least 2 (the race must cross processes)")
    config = Config(**vars(args))
    result = run(config)
    print(summary(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
