"""``python -m benchmarks``: run the benchmark sections and report them.

Examples::

    python -m benchmarks                      # everything, 3 repeats (about 6 minutes)
    python -m benchmarks --quick              # tiny sizes, 1 repeat: a smoke run for CI
    python -m benchmarks --only bulk,imports --repeats 5
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import bulk, decoding, failfast, goodput, imports, memory, overhead, plugin
from benchmarks._results import Section, Settings, section_from_dict, section_to_dict
from benchmarks.report import DEFAULT_JSON, render, write_json

SECTIONS: dict[str, Callable[[Settings], Section]] = {
    "bulk": bulk.run,
    "overhead": overhead.run,
    "decoding": decoding.run,
    "memory": memory.run,
    "failfast": failfast.run,
    "imports": imports.run,
    "plugin": plugin.run,
    "goodput": goodput.run,
}
DEFAULT_REPEATS = 3
#: Far above a full section's few minutes; only a hung section ever reaches it.
SECTION_TIMEOUT = 1200.0
_ROOT = Path(__file__).resolve().parent.parent


def _only(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(names) - set(SECTIONS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {', '.join(unknown) or '(none)'}; choose from "
            + ", ".join(SECTIONS)
        )
    return names


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and 1 repeat (a smoke run; no speed claims)",
    )
    parser.add_argument(
        "--only",
        type=_only,
        default=list(SECTIONS),
        metavar="LIST",
        help=f"comma-separated sections to run (default: all of {','.join(SECTIONS)})",
    )
    parser.add_argument(
        "--repeats",
        type=_positive,
        default=None,
        help=f"repeats per measurement; medians are reported (default {DEFAULT_REPEATS}, "
        "1 with --quick)",
    )
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help="where to write the JSON results"
    )
    # Internal: run one section in this process and write it to a file (see main()).
    parser.add_argument("--section-out", type=Path, default=None, help=argparse.SUPPRESS)
    return parser


def _run_isolated(name: str, settings: Settings) -> Section:
    """Run section ``name`` in a fresh interpreter and read its result back.

    Each section gets a clean process: what one leaves behind (imported comparison
    libraries, live objects the garbage collector must walk, warmed caches) would
    otherwise skew the next one's timings.
    """
    with tempfile.TemporaryDirectory(prefix="qoder-bench-") as folder:
        out = Path(folder) / f"{name}.json"
        command = [sys.executable, "-m", "benchmarks", "--only", name]
        command += ["--repeats", str(settings.repeats), "--section-out", str(out)]
        if settings.quick:
            command.append("--quick")
        subprocess.run(command, cwd=_ROOT, check=True, timeout=SECTION_TIMEOUT)
        return section_from_dict(json.loads(out.read_text()))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen sections, print the report, write the JSON."""
    args = build_parser().parse_args(argv)
    repeats = args.repeats or (1 if args.quick else DEFAULT_REPEATS)
    settings = Settings(quick=args.quick, repeats=repeats)
    if args.section_out is not None:
        (name,) = args.only
        section = SECTIONS[name](settings)
        args.section_out.write_text(json.dumps(section_to_dict(section), default=str))
        return 0
    sections: list[Section] = []
    for name in args.only:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        section = _run_isolated(name, settings)
        section.seconds = time.perf_counter() - started
        sections.append(section)
    render(sections, settings, sys.stdout)
    write_json(sections, settings, args.json)
    print(f"\nJSON written to {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
