"""Print the sections as plain-text tables and write them as JSON.

The text is meant to be pasted into ``BENCHMARKS.md`` as is: every table is a Markdown
pipe table, and the targets come last with PASS / MISS next to each ratio.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import attrs

from benchmarks._results import Section, Settings, Table, Target, section_to_dict

__all__ = ["DEFAULT_JSON", "machine", "render", "write_json"]

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "latest.json"


def _markdown(table: Table) -> list[str]:
    widths = [len(column) for column in table.columns]
    for row in table.rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = (
            cell.ljust(width) if index in table.text_columns else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            "-" * (width + 1) + ("-" if index in table.text_columns else ":")
            for index, width in enumerate(widths)
        )
        + "|"
    )
    return [f"**{table.title}**", "", line(table.columns), rule, *map(line, table.rows), ""]


def _target_table(targets: Sequence[Target]) -> Table:
    table = Table(
        title="Targets",
        columns=["target", "goal", "reached", "verdict"],
        text_columns=frozenset({0, 3}),
    )
    for target in targets:
        reached = "n/a" if target.value is None else f"{target.value:.2f}"
        table.rows.append([target.name, target.goal, reached, target.verdict])
    return table


def machine() -> dict[str, Any]:
    """Where the run happened: CPU count, processor, Python and platform."""
    return {
        "cpus": os.cpu_count(),
        "processor": _cpu_model() or platform.processor() or platform.machine(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def render(sections: Sequence[Section], settings: Settings, out: TextIO) -> None:
    """Write every section's tables, notes and the targets summary to ``out``."""
    info = machine()
    mode = "quick (smoke run, numbers mean nothing)" if settings.quick else "full"
    print(f"# qoder-async benchmarks ({mode}, repeats={settings.repeats})", file=out)
    print(
        f"machine: {info['cpus']} CPUs, {info['processor']}; "
        f"{info['implementation']} {info['python']}; {info['platform']}",
        file=out,
    )
    print(file=out)
    for section in sections:
        print(f"## {section.title} ({section.seconds:.0f} s)", file=out)
        print(file=out)
        for table in section.tables:
            print("\n".join(_markdown(table)), file=out)
        for note in section.notes:
            print(f"- {note}", file=out)
        if section.notes:
            print(file=out)
    targets = [target for section in sections for target in section.targets]
    if targets:
        print("## Targets", file=out)
        print(file=out)
        print("\n".join(_markdown(_target_table(targets))), file=out)
    out.flush()


def write_json(sections: Sequence[Section], settings: Settings, path: Path) -> None:
    """Write the full results (raw numbers included) to ``path`` as JSON."""
    document = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": attrs.asdict(settings),
        "machine": machine(),
        "sections": {section.name: section_to_dict(section) for section in sections},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=2, default=str) + "\n")
    temporary.replace(path)
