"""``LinkClient``: one gRPC channel to a Link control plane with a stub for every service."""
from __future__ import annotations

import ipaddress
import os
import random
import time
from typing import Any, Callable, Iterator, Optional, Sequence, Tuple
from urllib.parse import urlsplit

import grpc

from link_client._gen.link.v1.link_service_pb2_grpc import LinkServiceStub
from link_client._gen.link.v1.run_pb2 import RunEvent
from link_client._gen.link.v1.sandbox_service_pb2_grpc import SandboxServiceStub
from link_client._gen.link.v1.thread_service_pb2 import WatchRunRequest
from link_client._gen.link.v1.thread_service_pb2_grpc import ThreadServiceStub
from link_client._gen.link.v1.user_service_pb2_grpc import UserServiceStub

#: Codes after which watching a run again can succeed: the network, a replica going away, overload.
RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)


class LinkClient:
    """A client of a Link control plane's gRPC port.

    ``server`` is a URL with its scheme: ``https://link.example.com:9090`` (verified against the
    system's roots, or ``ca_file`` for a private CA), or ``http://127.0.0.1:9090`` for this machine.
    Plaintext to any other host is refused unless ``insecure=True``: a token sent in plaintext over a
    network is a token given away. The token is ``token`` or the contents of ``token_file`` (read again
    before every call, so a replaced token is picked up).

    The stubs ``links``, ``users``, ``threads`` and ``sandboxes`` take the request messages of
    ``link_client.pb``; failures raise ``grpc.RpcError`` (``reason_of(error)`` decodes the reason).
    Close the client (or use it as a context manager) to close its channel.
    """

    def __init__(
        self,
        server: str,
        token: Optional[str] = None,
        *,
        token_file: Optional[str] = None,
        ca_file: Optional[str] = None,
        insecure: bool = False,
        options: Sequence[Tuple[str, Any]] = (),
    ) -> None:
        url = urlsplit(server)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"{server}: the server address must be a URL such as https://link.example.com:9090")
        if url.scheme == "http" and not (insecure or _is_loopback(url.hostname)):
            raise ValueError(
                f"refusing to connect to {server} without TLS: the token would cross the network in plaintext. "
                f"Use https://{url.netloc}, or pass insecure=True if the network is trusted."
            )
        if not token and not token_file:
            raise ValueError("no user token: pass token or token_file")
        target = f"{url.hostname}:{url.port or (443 if url.scheme == 'https' else 80)}"
        if url.scheme == "https":
            ca = None
            if ca_file:
                with open(os.path.expanduser(ca_file), "rb") as f:
                    ca = f.read()
            channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=ca), options=list(options))
        else:
            channel = grpc.insecure_channel(target, options=list(options))
        self._channel = channel
        self._token = _token_source(token, token_file)
        authorized = grpc.intercept_channel(channel, _BearerToken(self._token))
        self.links = LinkServiceStub(authorized)
        self.users = UserServiceStub(authorized)
        self.threads = ThreadServiceStub(authorized)
        self.sandboxes = SandboxServiceStub(authorized)

    def follow_run(self, run_id: str, after_seq: int = 0, **kwargs: Any) -> Iterator[RunEvent]:
        """Every event of a run after ``after_seq`` to its terminal ``done``; see ``follow_run``."""
        return follow_run(self.threads, run_id, after_seq, **kwargs)

    def close(self) -> None:
        """Closes the channel; calls still open fail with CANCELLED. Safe to call twice."""
        self._channel.close()

    def __enter__(self) -> "LinkClient":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def follow_run(
    threads: ThreadServiceStub,
    run_id: str,
    after_seq: int = 0,
    *,
    max_retries: int = 10,
    backoff_base: float = 0.25,
    backoff_cap: float = 10.0,
    on_retry: Optional[Callable[[grpc.RpcError, float, int], None]] = None,
) -> Iterator[RunEvent]:
    """Every event of a run after ``after_seq``, in seq order without gaps or repeats, ending with
    (and including) the one terminal ``done`` event.

    When the stream breaks (the connection drops, the replica serving it shuts down, or it ends
    without ``done``) it watches again after the last seq it yielded, after a delay drawn uniformly
    below a window that doubles from ``backoff_base`` to ``backoff_cap`` seconds; a received event
    resets the window. Refusals (NOT_FOUND, UNAUTHENTICATED, ...) are raised at once, and so is the
    last error after ``max_retries`` reconnects in a row without an event.
    """
    failures = 0
    attempt = 0
    while True:
        error: grpc.RpcError
        try:
            # Batched: several events per response (one message per batch, not per event).
            for response in threads.WatchRun(WatchRunRequest(run_id=run_id, after_seq=after_seq, batched=True)):
                for event in response.events:
                    if event.seq <= after_seq:
                        continue
                    after_seq = event.seq
                    failures = attempt = 0
                    yield event
                    if event.WhichOneof("event") == "done":
                        return
            error = _StreamEnded()
        except grpc.RpcError as failure:
            if failure.code() not in RETRYABLE:  # type: ignore[attr-defined]
                raise
            error = failure
        failures += 1
        if failures > max_retries:
            raise error
        delay = random.uniform(0, min(backoff_cap, backoff_base * 2**attempt))
        attempt += 1
        if on_retry is not None:
            on_retry(error, delay, after_seq)
        time.sleep(delay)


class _StreamEnded(grpc.RpcError):
    """The watch ended without the run's ``done`` event (a server that went away cleanly)."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "the run watch ended before the run was done"


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _token_source(token: Optional[str], token_file: Optional[str]) -> Callable[[], str]:
    if token:
        fixed = token.strip()
        return lambda: fixed
    path = os.path.expanduser(token_file or "")

    def read() -> str:
        with open(path, encoding="utf-8") as f:
            value = f.read().strip()
        if not value:
            raise ValueError(f"{path} holds no token")
        return value

    return read


class _BearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds ``authorization: Bearer <token>`` to every call."""

    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    def _with_token(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = list(details.metadata or [])
        metadata.append(("authorization", f"Bearer {self._token()}"))
        return _CallDetails(details.method, details.timeout, metadata, details.credentials, details.wait_for_ready, details.compression)

    def intercept_unary_unary(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return continuation(self._with_token(details), request)

    def intercept_stream_unary(self, continuation, details, requests):  # type: ignore[no-untyped-def]
        return continuation(self._with_token(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):  # type: ignore[no-untyped-def]
        return continuation(self._with_token(details), requests)


class _CallDetails(grpc.ClientCallDetails):
    def __init__(self, method, timeout, metadata, credentials, wait_for_ready, compression):  # type: ignore[no-untyped-def]
        self.method = method
        self.timeout = timeout
        self.metadata = metadata
        self.credentials = credentials
        self.wait_for_ready = wait_for_ready
        self.compression = compression
