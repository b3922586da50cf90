"""Reliability tools, run by hand against a real gunicorn (they are not benchmarks: they check
rules, not speed): ``python -m reliability.storm`` (booking, churn and reschedule storms: no
double booking under real concurrency) and ``python -m reliability.fuzz`` (schemathesis
against the live server). tests/reliability/ runs CI-sized versions of both."""
