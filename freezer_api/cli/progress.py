# SPDX-License-Identifier: Apache-2.0
"""How far a long command has gone: a bar on a terminal, a line now and then otherwise."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def counted(
    items: Iterable[T], verb: str, *, every: float = 10.0, stream: IO[str] | None = None
) -> Iterator[T]:
    """Yield ``items``, saying on ``stream`` (stderr) how many were ``verb`` and how fast.

    On a terminal: tqdm's bar (count, rate, time). Elsewhere (a log, a pipe, systemd):
    one line every ``every`` seconds and one at the end, which a log keeps readable.
    """
    stream = stream if stream is not None else sys.stderr
    if stream.isatty():
        # NOTE: a terminal that reports no size (a pty nobody sized) would get no bar
        columns, lines = _size(stream)
        yield from tqdm(
            items,
            desc=verb,
            unit=" records",
            file=stream,
            mininterval=0.5,
            ncols=columns or 80,
            nrows=lines or 24,
        )
        return
    started = last = time.monotonic()
    count = 0
    for item in items:
        yield item
        count += 1
        now = time.monotonic()
        if now - last >= every:
            last = now
            _line(stream, verb, count, now - started)
    _line(stream, verb, count, time.monotonic() - started)


def _line(stream: IO[str], verb: str, count: int, seconds: float) -> None:
    rate = count / seconds if seconds > 0 else 0.0
    print(f"{verb} {count} records in {seconds:.1f} s ({rate:.0f}/s)", file=stream, flush=True)


def _size(stream: IO[str]) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError):
        return 0, 0
    return size.columns, size.lines
