"""The typed-usage file: every call it marks as wrong is refused by mypy for that reason.

``mypy --strict`` over the project already proves each ``# type: ignore`` is needed
(``warn_unused_ignores``); this test proves each one hides the error it names, so a
Literal widened back to ``str`` fails here too.
"""

from __future__ import annotations

import re
from pathlib import Path

from mypy import api as mypy_api

USAGE = Path(__file__).parent / "typing" / "usage.py"
IGNORE = re.compile(r"\s*# type: ignore\[([a-z-]+)\]$")


def test_marked_calls_fail_type_checking(tmp_path: Path) -> None:
    expected: dict[int, str] = {}
    lines = []
    for number, line in enumerate(USAGE.read_text().splitlines(), start=1):
        found = IGNORE.search(line)
        if found:
            expected[number] = found.group(1)
            line = line[: found.start()]
        lines.append(line)
    assert len(expected) >= 5
    bare = tmp_path / "usage.py"
    bare.write_text("\n".join(lines) + "\n")
    stdout, stderr, status = mypy_api.run(
        ["--strict", "--cache-dir", str(tmp_path / ".mypy"), str(bare)]
    )
    reported = {
        int(match.group(1)): match.group(2)
        for match in re.finditer(r"usage\.py:(\d+): error: .*\[([a-z-]+)\]$", stdout, re.M)
    }
    assert status == 1, stdout + stderr
    assert reported == expected, stdout
