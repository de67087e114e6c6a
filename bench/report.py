# SPDX-License-Identifier: Apache-2.0
"""The Markdown table of a run."""

from __future__ import annotations

from scenarios import Measure


def row(label: str, mine: Measure, theirs: Measure | None, ceiling_rps: float | None) -> str:
    if theirs is None:
        ratio, them = "n/a", "n/a | | |"
    else:
        ratio = (
            f"{mine.requests_per_s / theirs.requests_per_s:.1f}x"
            if theirs.requests_per_s
            else "no answer"
        )
        failed = f" **{theirs.errors} errors**" if theirs.errors else ""
        them = (
            f"{theirs.requests_per_s:.1f}{failed} | {theirs.p50_ms:.1f} / {theirs.p99_ms:.1f} | "
            f"{theirs.cpu_ms:.2f} | {theirs.rss_mb:.0f}"
        )
    share = (
        f" ({100 * mine.requests_per_s / ceiling_rps:.0f}% of the ceiling's {ceiling_rps:.0f})"
        if ceiling_rps
        else ""
    )
    errors = f" **{mine.errors} errors**" if mine.errors else ""
    return (
        f"| {label} | {mine.requests_per_s:.1f}{share}{errors} | {mine.p50_ms:.1f} / "
        f"{mine.p99_ms:.1f} | {mine.cpu_ms:.2f} | {mine.rss_mb:.0f} | {them} | {ratio} |"
    )


HEADER = (
    "| scenario | ours req/s | ours p50/p99 ms | ours CPU ms/req | ours RSS MB | "
    "19.0.0 req/s | 19.0.0 p50/p99 ms | 19.0.0 CPU ms/req | 19.0.0 RSS MB | ours/19.0.0 |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)
