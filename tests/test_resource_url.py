"""ResourceContext.url: plain segments joined as they are, anything else quoted."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from qoder_async.resources._base import _PLAIN, ResourceContext
from qoder_async.transport import MockTransport

BASE = "https://api.example/api/v1/cloud"


def reference(*segments: str) -> str:
    """Each segment on its own: kept when plain, else quoted with nothing safe."""
    return BASE + "".join(
        "/" + (segment if _PLAIN.fullmatch(segment) else quote(segment, safe=""))
        for segment in segments
    )


CTX = ResourceContext(BASE, MockTransport(lambda r: MockTransport.respond(r, 200)).send)


def test_usual_paths() -> None:
    dep = "dep_019ec556114c78f8b60ee34fcb98bf59"
    assert CTX.url() == BASE
    assert CTX.url("deployments") == f"{BASE}/deployments"
    assert CTX.url("deployments", dep, "archive") == f"{BASE}/deployments/{dep}/archive"
    assert CTX.url("deployments", "a/b", "x y") == f"{BASE}/deployments/a%2Fb/x%20y"
    assert CTX.url("deployments", "") == f"{BASE}/deployments/"


@given(st.lists(st.text(max_size=6) | st.from_regex(r"[A-Za-z0-9_]{0,6}", fullmatch=True)))
@settings(max_examples=500, deadline=None)
def test_any_segments_give_the_per_segment_result(segments: list[str]) -> None:
    assert CTX.url(*segments) == reference(*segments)
