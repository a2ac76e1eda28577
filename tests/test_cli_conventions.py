"""What users of ``gh`` and ``git`` expect from a command line: ``--version``, quiet exit on
a closed pipe, plain rows in a pipe and a table on a terminal, a page of 30 by default, a
confirmation before archiving, the sub-command's usage on a typo, shell completion, and
errors that say what to do."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
from importlib.metadata import version

import pytest

from qoder_async import APIConnectionError, InternalServerError
from qoder_async.cli import _runtime, main
from qoder_async.cli._completion import command_tree, completion_script
from qoder_async.cli._parser import build_parser
from qoder_async.testing import FakeQoderServer
from tests.cli_support import (
    child_env,
    cli,
    cli_on_terminal,
    server_fixture,  # noqa: F401 (pytest fixture)
)

# -- in-process ------------------------------------------------------------------------


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"qoder-async {version('qoder-async')}\n"


def test_unknown_option_prints_the_sub_command_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["deployments", "list", "--bogus"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: qoder-async deployments list")
    assert "unrecognized arguments: --bogus" in err
    with pytest.raises(SystemExit):
        main(["--json", "runs", "get", "drun_1", "--nope"])
    assert capsys.readouterr().err.startswith("usage: qoder-async runs get")


def test_errors_say_how_many_attempts_were_made() -> None:
    exhausted = InternalServerError("overloaded", status=503, request_id="req_1")
    exhausted.attempts = 4
    line, code = _runtime.describe_error(exhausted)
    assert line == "503 error: overloaded (gave up after 4 attempts) [request_id: req_1]"
    assert code == 1
    reset = APIConnectionError("connection reset")
    reset.attempts = 3
    assert _runtime.describe_error(reset)[0].endswith("(gave up after 3 attempts)")
    once = InternalServerError("overloaded", status=503)
    once.attempts = 1
    assert "attempt" not in _runtime.describe_error(once)[0]  # no retry, nothing to say


async def test_plain_http_needs_the_cli_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QODER_PAT", "pt-test-token")
    monkeypatch.delenv("QODER_BASE_URL", raising=False)
    refused = argparse.Namespace(base_url="http://example.com/api", allow_insecure_http=False)
    with pytest.raises(_runtime.UsageError, match="--allow-insecure-http") as caught:
        _runtime.make_client(refused)
    assert "allow_insecure_http=True" not in str(caught.value)
    allowed = argparse.Namespace(base_url="http://example.com/api", allow_insecure_http=True)
    client = _runtime.make_client(allowed)
    await client.aclose()
    broken = argparse.Namespace(base_url="http://user:pw@example.com/", allow_insecure_http=False)
    with pytest.raises(ValueError, match="user name or password"):  # the SDK's own words
        _runtime.make_client(broken)


# -- shell completion ------------------------------------------------------------------


def test_completion_tree_follows_the_parser() -> None:
    tree = command_tree(build_parser())
    words, _ = tree[""]
    assert {"deployments", "runs", "bulk-archive", "completion", "--version"} <= set(words)
    assert {"list", "archive"} <= set(tree["deployments"][0])
    assert "--yes" in tree["deployments archive"][0]
    assert tree["deployments list"][1]["--status"] == ["active", "paused"]


def _complete_in_bash(script: str, *words: str) -> list[str]:
    """The candidates bash offers after ``qoder-async WORDS...`` (the last is being typed)."""
    line = " ".join(["qoder-async", *(f"'{w}'" for w in words)])
    program = (
        f"{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words)}; _qoder_async; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout.split()


def test_bash_completion_parses_and_offers_commands_options_and_choices() -> None:
    script = completion_script("bash", build_parser())
    checked = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    top = _complete_in_bash(script, "")
    assert {"deployments", "runs", "bulk-archive", "fake-server", "demo", "completion"} <= set(top)
    assert _complete_in_bash(script, "--json", "deployments", "ar") == ["archive"]
    assert _complete_in_bash(script, "deployments", "list", "--status", "") == [
        "active",
        "paused",
    ]
    assert _complete_in_bash(script, "deployments", "list", "--l") == ["--limit"]
    assert _complete_in_bash(script, "completion", "")[-2:] == ["bash", "zsh"]


def test_zsh_completion_names_every_command() -> None:
    script = completion_script("zsh", build_parser())
    assert script.startswith("#compdef qoder-async\n")
    assert "compdef _qoder_async qoder-async" in script
    for path in ("deployments list", "runs get", "bulk-archive", "completion"):
        assert f'"{path}") offer=(' in script
    zsh = shutil.which("zsh")
    if zsh is not None:  # where zsh is installed, it must parse the script too
        checked = subprocess.run([zsh, "-n"], input=script, capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr


async def test_completion_command_prints_the_script(server: FakeQoderServer) -> None:
    result = await cli(server, "completion", "bash", token=None)  # no token needed
    assert result.code == 0, result.err
    assert result.out.rstrip().endswith("complete -F _qoder_async qoder-async")


# -- output in pipes and on terminals ----------------------------------------------------


async def test_a_closed_pipe_ends_the_command_quietly_with_0(server: FakeQoderServer) -> None:
    server.seed_deployments(300)  # more JSON than a pipe buffer holds
    command = (
        f"{sys.executable} -m qoder_async --base-url {server.url} --json deployments list"
        " --all | head -1"
    )
    proc = await asyncio.create_subprocess_exec(
        "bash", "-c", f"set -o pipefail; {command}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=child_env(server.token),
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert err == b""
    assert out.decode().startswith('{"type":"deployment"')
    assert len(out.splitlines()) == 1


async def test_a_pipe_gets_rows_without_headers_and_messages_go_to_stderr(
    server: FakeQoderServer,
) -> None:
    empty = await cli(server, "deployments", "list")
    assert (empty.code, empty.out) == (0, "")
    assert empty.err == "no deployments found\n"
    ids = server.seed_deployments(35)
    first_page = await cli(server, "deployments", "list")
    rows = [line.split("\t") for line in first_page.out.splitlines()]
    assert [row[0] for row in rows] == ids[::-1][:30]  # a page of 30 by default
    assert rows[0][1:3] == [server.state.deployments[ids[-1]]["name"], "active"]
    assert "showing the first 30 deployments; use --limit N or --all" in first_page.err
    everything = await cli(server, "deployments", "list", "--all")
    assert [line.split("\t")[0] for line in everything.out.splitlines()] == ids[::-1]
    assert everything.err == ""
    one = await cli(server, "deployments", "list", "--limit", "1")
    assert "showing the first 1 deployment;" in one.err
    both = await cli(server, "deployments", "list", "--limit", "1", "--all")
    assert both.code == 2
    assert "not allowed with" in both.err


async def test_a_terminal_gets_an_aligned_table_with_headers(server: FakeQoderServer) -> None:
    ids = server.seed_deployments(3)
    code, _, screen = await cli_on_terminal(server, "deployments", "list", stdout_on_terminal=True)
    assert code == 0, screen
    lines = screen.splitlines()
    assert lines[0].split() == ["ID", "NAME", "STATE", "SCHEDULE", "CREATED"]
    assert [line.split()[0] for line in lines[1:4]] == ids[::-1]
    assert "\t" not in screen


# -- archive asks first ------------------------------------------------------------------


async def test_archive_asks_on_a_terminal_and_refuses_without_one(
    server: FakeQoderServer,
) -> None:
    dep = server.seed_deployments(1)[0]
    refused = await cli(server, "deployments", "archive", dep)  # stdin is not a terminal
    assert refused.code == 2
    assert "not a terminal; pass --yes to confirm" in refused.err
    declined, _, screen = await cli_on_terminal(
        server, "deployments", "archive", dep, answer=b"n\n", stdout_on_terminal=True
    )
    assert declined == 1, screen
    assert "cannot be undone" in screen
    assert "aborted; nothing was archived" in screen
    assert server.request_counts["deployments.archive"] == 0
    confirmed, _, screen = await cli_on_terminal(
        server, "deployments", "archive", dep, answer=b"y\n", stdout_on_terminal=True
    )
    assert confirmed == 0, screen
    assert server.archive_applications[dep] == 1
    again = await cli(server, "deployments", "archive", dep, "--yes")
    assert again.code == 1  # already archived: a 409, and no prompt stood in the way
    assert "409 conflict_error" in again.err


# -- create / update say what is wrong ---------------------------------------------------


async def test_timezone_without_cron_and_unknown_json_keys_are_named(
    server: FakeQoderServer,
) -> None:
    dep = server.seed_deployments(1)[0]
    zone_only = await cli(server, "deployments", "update", dep, "--timezone", "Europe/Paris")
    assert zone_only.code == 2
    assert "--timezone is the time zone of --cron" in zone_only.err
    typo = await cli(
        server, "deployments", "create", "--from-json", "-", stdin=b'{"nme": "nightly"}'
    )
    assert typo.code == 2
    assert "unknown field 'nme' (did you mean 'name'?)" in typo.err
    wrong_type = await cli(
        server, "deployments", "update", dep, "--from-json", "-", stdin=b'{"name": 5}'
    )
    assert wrong_type.code == 2
    assert wrong_type.err == "error: name must be a str, not int\n"
    assert server.request_counts["deployments.create"] == 0
    assert server.request_counts["deployments.update"] == 0
    moved = await cli(
        server, "--json", "deployments", "update", dep, "--cron", "0 9 * * *",
        "--timezone", "Europe/Paris",
    )  # fmt: skip
    assert moved.code == 0, moved.err
    assert server.state.deployments[dep]["schedule"]["timezone"] == "Europe/Paris"


# -- counts read as English ----------------------------------------------------------------


async def test_counts_of_one_are_singular() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "qoder_async", "demo", "--count", "1", "--fault-rate", "0",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=child_env(None),
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    assert "0. Seeded 1 already-archived deployment straight" in text
    assert "1. Created 1 deployment with POST" in text
    assert "0 faults injected, 0 retries" in text
    assert "2. Listed 1 live deployment in 1 page of up to 100" in text
    assert "3. Bulk-archiving 4 ids" in text
