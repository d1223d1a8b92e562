"""Context managers destroy the VM on exit, also when the body raises, and
keep it when asked; written natively for each client."""

from __future__ import annotations

import pytest

import microvm_sandbox as m

from conftest import NO_NETWORK, unique


class Boom(Exception):
    pass


def _names(client: m.Client) -> list:
    return [s.name for s in client.list()]


def test_sync_with_destroys(client):
    name = unique("cm")
    with client.create(name, "minimal", network=NO_NETWORK) as sb:
        assert sb.exec("echo in").stdout == "in\n"
        assert name in _names(client)
    assert name not in _names(client)
    with pytest.raises(m.NotFoundError):
        client.get(name)


def test_sync_with_destroys_when_the_body_raises(client):
    name = unique("cm")
    with pytest.raises(Boom):
        with client.create(name, "minimal", network=NO_NETWORK):
            raise Boom()
    assert name not in _names(client)


def test_sync_keep(client):
    name = unique("cm")
    with client.create(name, "minimal", network=NO_NETWORK) as sb:
        sb.keep()
    try:
        assert client.get(name).state == "running"
        with client.get(name):  # a Sandbox from get() is a context manager too
            pass
        assert name not in _names(client)
    finally:
        client.get(name).destroy() if name in _names(client) else None


async def test_async_with_destroys():
    name = unique("acm")
    async with m.AsyncClient() as client:
        async with client.create(name, "minimal", network=NO_NETWORK) as sb:
            assert (await sb.exec("echo in")).stdout == "in\n"
            assert name in [s.name for s in await client.list()]
        assert name not in [s.name for s in await client.list()]
        with pytest.raises(m.NotFoundError):
            await client.get(name)


async def test_async_with_destroys_when_the_body_raises():
    name = unique("acm")
    async with m.AsyncClient() as client:
        with pytest.raises(Boom):
            async with await client.create(name, "minimal", network=NO_NETWORK):  # the awaited form
                raise Boom()
        assert name not in [s.name for s in await client.list()]


async def test_async_keep():
    name = unique("acm")
    async with m.AsyncClient() as client:
        async with client.create(name, "minimal", network=NO_NETWORK, keep=True):
            pass
        kept = await client.get(name)
        assert kept.state == "running"
        await kept.destroy()
        assert name not in [s.name for s in await client.list()]


def test_no_vm_left(client):
    """Run last in this module: nothing of the context managers remains."""
    assert [n for n in _names(client) if n.startswith(("cm-", "acm-"))] == []
