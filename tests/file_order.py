"""Longest test files first.

`make test` hands whole test files to its pytest-xdist workers in collection order
(``--dist loadfile --no-loadscope-reorder``). Started first, the longest files run beside
each other and the short ones fill in, so the run does not end waiting on one long file
that started last. ``file_seconds.json`` holds each file's seconds in a full run without
workers on a 2-core machine; refresh it with ``pytest --record-file-seconds`` (no ``-n``).
A file not listed counts as ``FILE_SECONDS_DEFAULT``.
"""

from __future__ import annotations

import json
from pathlib import Path

FILE_SECONDS = Path(__file__).with_name("file_seconds.json")
FILE_SECONDS_DEFAULT = 5.0


def pytest_addoption(parser):
    parser.addoption("--record-file-seconds", action="store_true",
                     help=f"rewrite {FILE_SECONDS.name} with this run's seconds per test file")


def _test_file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _recorded() -> dict[str, float]:
    try:
        return json.loads(FILE_SECONDS.read_text())
    except (OSError, ValueError):
        return {}


def pytest_collection_modifyitems(config, items):
    seconds = _recorded()
    if seconds:
        items.sort(key=lambda item: -float(seconds.get(_test_file(item.nodeid), FILE_SECONDS_DEFAULT)))  # stable


_file_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report):
    file = _test_file(report.nodeid)
    _file_seconds[file] = _file_seconds.get(file, 0.0) + report.duration


def pytest_sessionfinish(session):
    """With ``--record-file-seconds``, write this run's seconds (files it did not run keep theirs)."""
    if hasattr(session.config, "workerinput"):  # an xdist worker: only the controller writes
        return
    if session.config.getoption("record_file_seconds") and _file_seconds:
        seconds = _recorded()
        seconds.update({f: round(s, 1) for f, s in _file_seconds.items()})
        FILE_SECONDS.write_text(json.dumps(dict(sorted(seconds.items(), key=lambda kv: -kv[1])), indent=1) + "\n")
