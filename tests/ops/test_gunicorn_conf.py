"""gunicorn.conf.py's access log: no access line is built unless one is asked for
(``GUNICORN_ACCESS_LOG``), and one is written when it is."""

from __future__ import annotations

from tests.ops.deploy_files import (
    gunicorn_settings,
)


def gunicorn_logger(environ: dict[str, str]):
    """The logger gunicorn builds from gunicorn.conf.py under ``environ``."""
    from gunicorn.config import Config

    values = gunicorn_settings(environ)
    config = Config()
    for name in ("accesslog", "logconfig_dict", "logger_class"):
        config.set(name, values[name])
    return config.logger_class(config)


class Untouchable:
    """A request or response that fails the test when anything reads it."""

    def __getattr__(self, name: str):
        raise AssertionError(f"the access line was built ({name} read)")


def test_gunicorn_builds_no_access_line_unless_one_is_asked_for() -> None:
    logger = gunicorn_logger({})

    assert logger.access_log_enabled is False
    logger.access(Untouchable(), Untouchable(), {"PATH_INFO": "/api/v1/sessions/u-1"}, 0.01)


def test_gunicorn_access_log_is_written_when_asked_for() -> None:
    logger = gunicorn_logger({"GUNICORN_ACCESS_LOG": "-"})

    assert logger.access_log_enabled is True
