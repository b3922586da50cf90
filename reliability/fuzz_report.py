"""What a fuzzing run found: one ``OperationResult`` per (key, operation) and the ``Report``
with the totals, as ``python -m reliability.fuzz`` prints them and the CI test asserts them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class OperationResult:
    """What one operation got with one key."""

    key: str
    operation: str
    examples: int = 0
    server_errors: int = 0
    schema_violations: int = 0
    other_failures: int = 0
    transport_errors: int = 0
    refused_by_gunicorn: int = 0  # negative cases gunicorn refused before the app (414 / 431)
    statuses: Counter = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)  # a few failure reports, for the reader
    seconds: float = 0.0

    @property
    def failures(self) -> int:
        return (
            self.server_errors
            + self.schema_violations
            + self.other_failures
            + self.transport_errors
        )

    def record_failure(self, text: str) -> None:
        if len(self.samples) < 3:
            self.samples.append(text)

    def line(self) -> str:
        statuses = " ".join(f"{code}x{n}" for code, n in sorted(self.statuses.items()))
        return (
            f"{self.key:<5} {self.operation:<62} examples={self.examples:<4} "
            f"5xx={self.server_errors} schema={self.schema_violations} "
            f"other={self.other_failures} transport={self.transport_errors} "
            f"gunicorn_414={self.refused_by_gunicorn} {self.seconds:5.1f}s [{statuses}]"
        )


@dataclass
class Report:
    """Every operation's result, and the totals."""

    examples_per_operation: int
    results: list[OperationResult] = field(default_factory=list)
    seconds: float = 0.0

    def total(self, name: str) -> int:
        return sum(getattr(result, name) for result in self.results)

    @property
    def ok(self) -> bool:
        return self.total("failures") == 0 and bool(self.results)

    def summary(self) -> str:
        operations = len({r.operation for r in self.results})
        return (
            f"TOTAL operations={operations} runs={len(self.results)} "
            f"examples={self.total('examples')} server_errors={self.total('server_errors')} "
            f"schema_violations={self.total('schema_violations')} "
            f"other_failures={self.total('other_failures')} "
            f"transport_errors={self.total('transport_errors')} "
            f"refused_by_gunicorn={self.total('refused_by_gunicorn')} "
            f"seconds={self.seconds:.1f} -> {'OK' if self.ok else 'FAIL'}"
        )
