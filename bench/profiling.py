# SPDX-License-Identifier: Apache-2.0
"""py-spy samples of the servers' workers under a cell's load, and their summary."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from scenarios import measure, settle
from servers import OURS_BIN, Server

#: samples per second py-spy takes of each worker
PROFILE_RATE = 250


def profile(
    server: Server,
    plan: list[tuple[int, str, str, str]],
    ids: Path,
    concurrency: int,
    seconds: int,
    output: Path,
) -> None:
    """Load the server as ``measure`` does while py-spy samples each worker; write the
    merged stacks (``output``.folded) and their summary (``output``.txt)."""
    spy = OURS_BIN / "py-spy"
    # NOTE: before the samplers start, whose duration is the load's: a server still working
    # off the last cell's backlog would be sampled at that instead.
    settle(server)
    workers = [pid for pid in server.pids() if pid != server.process.pid]
    raw = [output.with_name(f"{output.name}.{pid}.raw") for pid in workers]
    samplers = [
        subprocess.Popen(
            [
                str(spy),
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(PROFILE_RATE),
                "--duration",
                str(seconds + 1),
                "--format",
                "raw",
                "--nonblocking",
                "--function",
                "--output",
                str(path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid, path in zip(workers, raw, strict=True)
    ]
    # NOTE: py-spy needs a moment to attach before the load starts.
    time.sleep(0.5)
    load = measure(server, plan, ids, concurrency, seconds)
    stacks: dict[str, int] = {}
    for sampler, path in zip(samplers, raw, strict=True):
        sampler.wait(timeout=seconds + 60)
        with contextlib.suppress(FileNotFoundError):
            for stack, count in read_folded(path.read_text()):
                stacks[stack] = stacks.get(stack, 0) + count
            path.unlink()
    folded = output.with_name(output.name + ".folded")
    folded.write_text("".join(f"{stack} {count}\n" for stack, count in stacks.items()))
    sampled = (
        f"{server.name} at c={concurrency} while sampled: {load.requests_per_s:.0f} req/s, "
        f"{load.cpu_ms:.2f} ms of CPU per request\n"
    )
    output.with_name(output.name + ".txt").write_text(sampled + summary(stacks))


def read_folded(text: str) -> Iterator[tuple[str, int]]:
    """(stack, samples) of py-spy's raw output: frames joined by ``;``, then a count."""
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            yield stack, int(count)


def summary(stacks: dict[str, int], top: int = 20) -> str:
    """The functions most often running (self), and the share of samples each of the
    project's functions was on the stack for (inclusive)."""
    total = sum(stacks.values())
    if not total:
        return "no samples: py-spy could not attach, or the workers were idle\n"
    own: dict[str, int] = {}
    within: dict[str, int] = {}
    for stack, count in stacks.items():
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            if "freezer_api/" in frame:
                within[frame] = within.get(frame, 0) + count
    lines = [
        f"{total} samples of the workers while they ran a request: in Python, or waiting in a "
        "call made from it (a lock, the disk, the database)\n",
        "self (on top of the stack):",
    ]
    for frame, count in sorted(own.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"  {100 * count / total:5.1f}%  {frame}")
    lines.append("\ninclusive (the project's functions on the stack):")
    for frame, count in sorted(within.items(), key=lambda item: -item[1])[: 2 * top]:
        lines.append(f"  {100 * count / total:5.1f}%  {frame}")
    return "\n".join(lines) + "\n"


def slug(text: str) -> str:
    return "".join(char if char.isalnum() else "-" for char in text.lower()).strip("-")
