"""The written-out structure functions decode exactly what cattrs' generated ones would.

``_written_hooks`` replaces the generated functions for ``Deployment``, ``AgentRef``,
``Schedule`` and ``UserMessage`` (for speed; BENCHMARKS.md). Users must not be able to
tell: on every body, including drifted and randomly mutated ones, the client's converter
and a converter left entirely to cattrs either both decode, to equal models, or both
refuse (and the slow path then handles the body the same way for both).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import attrs
import pytest
from hypothesis import given

from qoder_async import _serde, _written_hooks
from qoder_async.models import AgentRef, Deployment, Page, Schedule, UserMessage
from tests.test_decode_drift import DRIFT, TOLERATED, drifted, load
from tests.test_properties_responses import MODEL_FIXTURES, PROPERTY, mutated_fixture

WRITTEN = _serde.make_structure_converter()
GENERATED = _serde.make_structure_converter(written_out=False)
DEPLOYMENT_FIXTURES = sorted(n for n in MODEL_FIXTURES if "run" not in n)


def _model_type(name: str) -> Any:
    return Page[Deployment] if "page" in name else Deployment


def decode(converter: Any, body: Any, tp: Any) -> Any:
    """The model, or "refused": what the fast path hands on to the caller."""
    try:
        return converter.get_structure_hook(tp)(copy.deepcopy(body), tp)
    except Exception:  # any refusal sends the body to the slow path, the same for both
        return "refused"


def test_written_functions_are_the_ones_the_client_uses() -> None:
    for cls in (Deployment, AgentRef, Schedule, UserMessage):
        written = WRITTEN.get_structure_hook(cls)
        assert written.__module__ == _written_hooks.__name__
        assert GENERATED.get_structure_hook(cls).__module__ != _written_hooks.__name__
    _serde.structure(load("deployment.json"), Deployment)  # builds the client's converter
    assert _serde._converter.get_structure_hook(Deployment).__module__ == _written_hooks.__name__


@pytest.mark.parametrize("name", DEPLOYMENT_FIXTURES)
def test_every_deployment_fixture_decodes_the_same(name: str) -> None:
    body = MODEL_FIXTURES[name]
    written = decode(WRITTEN, body, _model_type(name))
    assert written != "refused"
    assert written == decode(GENERATED, body, _model_type(name))


DEPLOYMENT_CASES = [case for case in DRIFT + TOLERATED if case[1].startswith("deployment.")]


@pytest.mark.parametrize(
    ("name", "mutate"),
    [case[1:3] for case in DEPLOYMENT_CASES],
    ids=[case[0] for case in DEPLOYMENT_CASES],
)
def test_drifted_and_tolerated_bodies_decode_the_same(name: str, mutate: Any) -> None:
    body = drifted(name, mutate)
    assert decode(WRITTEN, body, Deployment) == decode(GENERATED, body, Deployment)


@PROPERTY
@given(body=mutated_fixture(tuple(DEPLOYMENT_FIXTURES)))
def test_mutated_bodies_decode_the_same(body: bytes) -> None:
    document = json.loads(body)
    tp = Page[Deployment] if "data" in document else Deployment
    assert decode(WRITTEN, document, tp) == decode(GENERATED, document, tp)


def test_a_model_field_the_written_function_does_not_read_stops_the_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    build, read = _written_hooks.WRITTEN[AgentRef]
    monkeypatch.setitem(_written_hooks.WRITTEN, AgentRef, (build, read.replace(" version", "")))
    with pytest.raises(RuntimeError, match=r"AgentRef fields out of step .*\['version'\]"):
        _serde.make_structure_converter().get_structure_hook(AgentRef)


def test_every_written_function_reads_every_field_of_its_model() -> None:
    for cls, (_, read) in _written_hooks.WRITTEN.items():
        on_wire = {field.name for field in attrs.fields(cls)} - {"extra"}
        assert set(read.split()) == on_wire, cls
