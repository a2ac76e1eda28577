"""Transport safety: https unless loopback or opted in, no redirects followed, TLS verified.

Redirects are checked over real loopback HTTP with a second server standing in for
another host: it must never see a request, let alone the token. TLS is checked against
a local HTTPS server with a self-signed certificate: refused by default, accepted with
an ``ssl.SSLContext`` that trusts it.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aioresponses import CallbackResult, aioresponses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from qoder_async import (
    AiohttpTransport,
    APIConnectionError,
    ClientConfig,
    MockTransport,
    QoderClient,
    UnexpectedRedirectError,
)

TOKEN = "pt-transport-safety-token"
FIXTURE = (Path(__file__).parent / "fixtures" / "deployment.json").read_bytes()
DEP = "dep_019ec556114c78f8b60ee34fcb98bf59"

# -- https only, unless loopback or opted in -------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://api.qoder.com/api/v1/cloud",
        "http://10.0.0.1/api",
        "http://127.0.0.1.evil.example/api",
        "http://localhost.evil.example/api",
        "http://0x7f000001/api",
    ],
)
def test_plain_http_to_another_host_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="base_url") as info:
        QoderClient(TOKEN, base_url=url)
    assert "allow_insecure_http" in str(info.value)
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/api",
        "http://127.10.20.30/api",
        "http://localhost:9/api",
        "http://[::1]:8080/api",
        "https://api.qoder.com/api/v1/cloud",
    ],
)
def test_https_and_loopback_http_are_accepted(url: str) -> None:
    client = QoderClient(TOKEN, base_url=url, transport=MockTransport(MockTransport.respond))
    assert client.base_url == url


def test_plain_http_elsewhere_needs_an_explicit_opt_in() -> None:
    url = "http://gateway.internal/api"
    client = QoderClient(
        TOKEN,
        base_url=url,
        allow_insecure_http=True,
        transport=MockTransport(MockTransport.respond),
    )
    assert client.base_url == url
    assert ClientConfig(base_url=url, allow_insecure_http=True).base_url == url


def test_the_environment_cannot_downgrade_to_plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QODER_BASE_URL", "http://api.qoder.com/api/v1/cloud")
    with pytest.raises(ValueError, match="allow_insecure_http"):
        QoderClient(TOKEN)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://api.qoder.com/api", "absolute http"),
        ("file:///etc/passwd", "absolute http"),
        ("api.qoder.com/api", "absolute http"),
        ("https://api.qoder.com/api?x=1", "query"),
        ("https://api.qoder.com/api#frag", "fragment"),
        ("https://user:secret@api.qoder.com/api", "user name or password"),
        ("https://api.qoder.com:99999/api", "invalid port"),
    ],
)
def test_malformed_base_urls_are_refused(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as info:
        QoderClient(TOKEN, base_url=url)
    assert "secret" not in str(info.value)


# -- redirects are never followed ------------------------------------------------------------


class Recorder:
    """A loopback HTTP server that records what reaches it."""

    def __init__(self, answer: Callable[[web.Request], web.StreamResponse]) -> None:
        self.seen: list[tuple[str, str, str | None]] = []
        self.answer = answer
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.seen.append((request.method, request.path, request.headers.get("Authorization")))
        return self.answer(request)


@pytest.fixture
async def servers() -> AsyncIterator[tuple[Recorder, Recorder]]:
    """An API server and an "other host" that records everything (both on loopback)."""
    other = Recorder(lambda r: web.Response(body=FIXTURE, content_type="application/json"))
    api = Recorder(lambda r: web.Response(status=500))
    runners = []
    for recorder in (other, api):
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", recorder.handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        recorder.url = f"http://{host}:{port}"
        runners.append(runner)
    try:
        yield api, other
    finally:
        for runner in runners:
            await runner.cleanup()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_redirect_is_an_error_naming_the_location_and_is_not_followed(
    servers: tuple[Recorder, Recorder], status: int, method: str
) -> None:
    api, other = servers
    api.answer = lambda r: web.Response(status=status, headers={"Location": other.url + r.path})
    async with QoderClient(TOKEN, base_url=api.url + "/api", retry=4) as client:
        call = client.deployments.get if method == "GET" else client.deployments.archive
        with pytest.raises(UnexpectedRedirectError) as info:
            await call(DEP)
    error = info.value
    assert error.status == status
    assert f"{other.url}/api/deployments/{DEP}" in str(error)
    assert "not followed" in str(error)
    assert other.seen == []  # the token never left for the other host
    assert len(api.seen) == 1  # and a redirect is not retried
    path = f"/api/deployments/{DEP}" + ("/archive" if method == "POST" else "")
    assert api.seen[0][:2] == (method, path)
    assert api.seen[0][2] == f"Bearer {TOKEN}"


async def test_aiohttp_is_told_not_to_follow_redirects() -> None:
    seen: list[dict[str, Any]] = []

    def capture(url: Any, **kwargs: Any) -> CallbackResult:
        seen.append(kwargs)
        return CallbackResult(status=302, headers={"Location": "https://elsewhere.example/x"})

    base = "https://api.example/api/v1/cloud"
    with aioresponses() as mocked:
        mocked.get(f"{base}/deployments/{DEP}", callback=capture)
        async with QoderClient(TOKEN, base_url=base) as client:
            with pytest.raises(UnexpectedRedirectError, match=r"elsewhere\.example"):
                await client.deployments.get(DEP)
    assert len(seen) == 1
    assert seen[0]["allow_redirects"] is False


# -- TLS: verification on by default, a custom context is used --------------------------------


async def test_a_custom_ssl_context_reaches_every_request() -> None:
    context = ssl.create_default_context()
    seen: list[dict[str, Any]] = []

    def capture(url: Any, **kwargs: Any) -> CallbackResult:
        seen.append(kwargs)
        return CallbackResult(status=200, body=FIXTURE)

    base = "https://api.example/api/v1/cloud"
    with aioresponses() as mocked:
        mocked.get(f"{base}/deployments/{DEP}", callback=capture, repeat=True)
        async with QoderClient(TOKEN, base_url=base, ssl_context=context) as client:
            await client.deployments.get(DEP)
            transport = client.transport
            assert isinstance(transport, AiohttpTransport)
            session = transport._session
            assert session is not None
            assert session.connector is not None
            assert session.connector._ssl is context  # type: ignore[attr-defined]
        async with QoderClient(TOKEN, base_url=base) as default:
            await default.deployments.get(DEP)
    assert seen[0]["ssl"] is context
    assert seen[1]["ssl"] is True  # the default: verify against the system's CAs


def test_ssl_context_and_a_transport_do_not_mix() -> None:
    with pytest.raises(TypeError, match="ssl_context"):
        QoderClient(
            TOKEN,
            transport=MockTransport(MockTransport.respond),
            ssl_context=ssl.create_default_context(),
        )


def write_self_signed(cert: Path, key: Path) -> None:
    """A one-day self-signed certificate for 127.0.0.1 (made in Python: no openssl command)."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private_key, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    write_self_signed(cert, key)
    return cert, key


@pytest.fixture
async def https_api(self_signed: tuple[Path, Path]) -> AsyncIterator[str]:
    cert, key = self_signed
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)

    async def get(request: web.Request) -> web.Response:
        return web.Response(body=FIXTURE, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/deployments/{id}", get)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"https://{host}:{port}/api"
    finally:
        await runner.cleanup()


async def test_an_untrusted_certificate_is_refused_by_default(https_api: str) -> None:
    async with QoderClient(TOKEN, base_url=https_api, retry=1) as client:
        with pytest.raises(APIConnectionError, match="certificate") as info:
            await client.deployments.get(DEP)
    assert info.value.maybe_sent is False


async def test_a_context_that_trusts_the_certificate_connects(
    https_api: str, self_signed: tuple[Path, Path]
) -> None:
    context = ssl.create_default_context(cafile=str(self_signed[0]))
    async with QoderClient(TOKEN, base_url=https_api, ssl_context=context) as client:
        deployment = await client.deployments.get(DEP)
    assert deployment.id == DEP
