"""The SDK against the real service (`microvm-sandbox --serve`, started by
the ctest fixture tests/sdk/sdkservice.sh with a fresh state directory and
token): MVS_SDK_SERVICE names its state file, whose MVS_URL and MVS_TOKEN
go into the environment as a user would set them; the clients find them
there.

`api` runs each test twice: with the sync Client, and with the AsyncClient
driven on an event loop of its own (Blocking), so both clients pass the
same assertions."""

from __future__ import annotations

import asyncio
import inspect
import os
import secrets
import threading
from typing import Any, Callable, Iterator

import pytest

import microvm_sandbox as m

NO_NETWORK = {"mode": "none"}


def _load_service_state() -> None:
    path = os.environ.get("MVS_SDK_SERVICE")
    if not path or not os.path.exists(path):
        raise RuntimeError("MVS_SDK_SERVICE must name the state file of a running service (tests/sdk/sdkservice.sh start BINARY FILE)")
    with open(path) as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            if key:
                os.environ[key] = value.strip("'")


_load_service_state()


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


class LoopThread:
    """An event loop running in a thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, awaitable: Any) -> Any:
        async def wait() -> Any:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wait(), self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class Blocking:
    """An AsyncClient or AsyncSandbox called like the sync one: coroutines
    and awaitables run on the loop thread, async generators are iterated
    from it."""

    def __init__(self, target: Any, lt: LoopThread):
        self._target = target
        self._lt = lt

    def _wrap(self, value: Any) -> Any:
        if isinstance(value, (m.AsyncSandbox, m.AsyncClient)):
            return Blocking(value, self._lt)
        if isinstance(value, list):
            return [self._wrap(v) for v in value]
        return value

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if inspect.isasyncgenfunction(attr):
            def iterate(*a: Any, **k: Any) -> Iterator[Any]:
                agen = attr(*a, **k)
                try:
                    while True:
                        try:
                            yield self._lt.run(agen.__anext__())
                        except StopAsyncIteration:
                            return
                finally:
                    self._lt.run(agen.aclose())
            return iterate
        if callable(attr):
            def call(*a: Any, **k: Any) -> Any:
                value = attr(*a, **k)
                return self._wrap(self._lt.run(value) if inspect.isawaitable(value) else value)
            return call
        return attr

    def __enter__(self) -> Any:
        return self._wrap(self._lt.run(self._target.__aenter__()))

    def __exit__(self, *exc: Any) -> Any:
        return self._lt.run(self._target.__aexit__(*exc))


@pytest.fixture(scope="module")
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.close()


@pytest.fixture(scope="module")
def client() -> Iterator[m.Client]:
    with m.Client() as c:
        yield c


@pytest.fixture(params=["sync", "async"])
def make_client(request: Any, loop_thread: LoopThread) -> Iterator[Callable[..., Any]]:
    """A factory of clients (kwargs as Client's), sync or async by the
    test's parameter; all closed after the test."""
    made: list = []

    def make(**kw: Any) -> Any:
        if request.param == "sync":
            c = m.Client(**kw)
            made.append(c.close)
            return c

        async def create() -> m.AsyncClient:
            return m.AsyncClient(**kw)

        c = loop_thread.run(create())
        made.append(lambda: loop_thread.run(c.aclose()))
        return Blocking(c, loop_thread)

    yield make
    for close in made:
        close()


@pytest.fixture
def api(make_client: Callable[..., Any]) -> Any:
    return make_client()


@pytest.fixture(scope="module")
def shared_vm(client: m.Client) -> Iterator[str]:
    """One minimal VM (no NIC) for the whole module."""
    with client.create(unique("sdk"), "minimal", network=NO_NETWORK) as sb:
        yield sb.name
