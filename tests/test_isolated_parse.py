"""Parsing untrusted files in a child process: time limit, crash, bomb, and reuse."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from ingest.loaders.isolated import IsolatedLoader
from rag.errors import LoadError
from tests.hostile_files import flate_bomb_pdf, slow_pdf

GOOD = "# Policy\n\nEvery employee gets 27 vacation days per calendar year.\n"


@pytest.fixture
def loader():
    load = IsolatedLoader(timeout=3, memory_mb=1024)
    yield load
    load.close()


def test_a_normal_file_loads_in_the_child(loader, tmp_path):
    path = tmp_path / "policy.md"
    path.write_text(GOOD)
    doc = loader(path)
    assert "27 vacation days" in doc.pages[0].text and doc.kind == "markdown"
    first = loader._process.pid
    assert loader(path).content_hash == doc.content_hash
    assert loader._process.pid == first  # one child, reused


def test_a_pdf_that_parses_forever_times_out_and_the_next_file_loads(loader, tmp_path):
    hostile = slow_pdf(tmp_path / "slow.pdf")
    started = time.monotonic()
    with pytest.raises(LoadError, match="parse_timeout"):
        loader(hostile)
    assert time.monotonic() - started < 10
    good = tmp_path / "policy.md"
    good.write_text(GOOD)
    assert "27 vacation days" in loader(good).pages[0].text  # a fresh child


def test_a_parser_crash_fails_that_file_only(loader, tmp_path):
    hostile = slow_pdf(tmp_path / "slow.pdf")
    loader.timeout = 60
    killer = threading.Timer(1.0, lambda: os.kill(loader._process.pid, signal.SIGSEGV))
    good = tmp_path / "policy.md"
    good.write_text(GOOD)
    loader(good)  # start the child, so the timer has a pid to signal
    killer.start()
    with pytest.raises(LoadError, match="crashed"):
        loader(hostile)
    assert "27 vacation days" in loader(good).pages[0].text


def test_a_decompression_bomb_is_bounded(loader, tmp_path):
    bomb = flate_bomb_pdf(tmp_path / "bomb.pdf", mebibytes=1024)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    started = time.monotonic()
    with pytest.raises(LoadError):
        loader(bomb)  # pypdf stops inflating at 75 MB; the page has no text left
    assert time.monotonic() - started < 10
