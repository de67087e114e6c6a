# SPDX-License-Identifier: Apache-2.0
"""The benchmark's profile summary: where the sampled workers' time went."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``bench/profiling.py``, imported as ``bench/run.py`` imports it (from its folder)."""
    monkeypatch.syspath_prepend(str(BENCH))
    for name in ("servers", "scenarios", "profiling"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return importlib.import_module("profiling")


RAW = """\
process 7 (uwsgi);app (freezer_api/app.py:96);insert (freezer_api/storage/sql/store.py:313);do_commit (sqlalchemy/engine/default.py:954) 6
process 7 (uwsgi);app (freezer_api/app.py:96);insert (freezer_api/storage/sql/store.py:313);acquire (freezer_api/storage/sql/engine.py:122) 3
process 7 (uwsgi);app (freezer_api/app.py:96);read_json (freezer_api/api/compat.py:40) 1
not a sample line
"""  # noqa: E501


def test_raw_stacks_are_read_with_their_sample_counts(bench):
    read = list(bench.read_folded(RAW))
    assert [count for _, count in read] == [6, 3, 1]
    assert read[2][0].endswith("read_json (freezer_api/api/compat.py:40)")


def test_summary_gives_each_function_its_share_on_top_and_on_the_stack(bench):
    text = bench.summary(dict(bench.read_folded(RAW)))
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0].startswith("10 samples")
    own = lines[lines.index("self (on top of the stack):") + 1 :]
    assert own[:3] == [
        "60.0%  do_commit (sqlalchemy/engine/default.py:954)",
        "30.0%  acquire (freezer_api/storage/sql/engine.py:122)",
        "10.0%  read_json (freezer_api/api/compat.py:40)",
    ]
    inclusive = lines[lines.index("inclusive (the project's functions on the stack):") + 1 :]
    assert inclusive[:2] == [
        "100.0%  app (freezer_api/app.py:96)",
        "90.0%  insert (freezer_api/storage/sql/store.py:313)",
    ]
    # only the project's own frames are listed as inclusive
    assert not any("sqlalchemy/" in line or "uwsgi" in line for line in inclusive)


def test_a_profile_without_samples_says_why(bench):
    assert bench.summary({}).startswith("no samples")
