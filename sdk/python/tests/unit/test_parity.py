"""The sync and the async client offer the same methods with the same
parameters (the e2e suite runs the same assertions through both)."""

from __future__ import annotations

import inspect

import microvm_sandbox as m


def _public(cls):
    return {n: inspect.signature(f) for n, f in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")}


def test_same_methods_and_parameters():
    for sync_cls, async_cls in ((m.Client, m.AsyncClient), (m.Sandbox, m.AsyncSandbox)):
        sync_methods, async_methods = _public(sync_cls), _public(async_cls)
        assert set(sync_methods) - {"close"} == set(async_methods) - {"aclose"}, sync_cls
        for name, sig in sync_methods.items():
            if name in async_methods:
                assert list(sig.parameters) == list(async_methods[name].parameters), f"{sync_cls.__name__}.{name}"


def test_async_methods_are_coroutines_or_streams():
    for name, f in inspect.getmembers(m.AsyncSandbox, inspect.isfunction):
        if name.startswith("_") or name == "keep":
            continue
        assert inspect.iscoroutinefunction(f) or inspect.isasyncgenfunction(f), name
