"""URL and token resolution, as the CLI does it (app/serviceclient.cpp,
core/paths.cpp), and the error mapping; no service needed."""

from __future__ import annotations

import pytest

import microvm_sandbox as m
from microvm_sandbox._errors import error_from_response


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for var in ("MVS_URL", "MVS_TOKEN", "MVS_CONFIG_DIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_url_defaults_and_environment(monkeypatch):
    assert m.resolve_url() == "http://127.0.0.1:8000"
    monkeypatch.setenv("MVS_URL", "10.1.2.3:9000/")
    assert m.resolve_url() == "http://10.1.2.3:9000"
    assert m.resolve_url("https://box.example:8443//") == "https://box.example:8443"


def test_token_order(monkeypatch, tmp_path):
    assert m.resolve_token() == (None, str(tmp_path / "home/.config/microvm-sandbox/token"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    (tmp_path / "xdg/microvm-sandbox").mkdir(parents=True)
    (tmp_path / "xdg/microvm-sandbox/token").write_text("fromxdg\n")
    assert m.resolve_token() == ("fromxdg", str(tmp_path / "xdg/microvm-sandbox/token"))
    monkeypatch.setenv("MVS_CONFIG_DIR", str(tmp_path / "cfg"))
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg/token").write_text("  fromcfg  \n")
    assert m.resolve_token() == ("fromcfg", str(tmp_path / "cfg/token"))
    monkeypatch.setenv("MVS_TOKEN", " fromenv ")
    assert m.resolve_token() == ("fromenv", "MVS_TOKEN")
    assert m.resolve_token("explicit") == ("explicit", "the token argument")


def test_token_file_with_more_than_a_word_is_ignored(monkeypatch, tmp_path):
    monkeypatch.setenv("MVS_CONFIG_DIR", str(tmp_path))
    (tmp_path / "token").write_text("two words\n")
    assert m.resolve_token()[0] is None


def test_client_sends_the_token(monkeypatch):
    monkeypatch.setenv("MVS_TOKEN", "abc")
    with m.Client() as c:
        assert c._http.headers["authorization"] == "Bearer abc"


@pytest.mark.parametrize("status,code,cls", [
    (404, "not_found", m.NotFoundError), (401, "unauthorized", m.AuthenticationError), (409, "already_exists", m.AlreadyExistsError),
    (409, "invalid_state", m.InvalidStateError), (409, "control_held", m.ControlHeldError), (400, "invalid_json", m.InvalidArgumentError),
    (503, "display_not_ready", m.DisplayNotReadyError), (503, "agent_unavailable", m.AgentUnavailableError), (504, "timeout", m.ApiTimeoutError),
    (507, "no_space", m.NoSpaceError), (429, "quota_exceeded", m.QuotaExceededError), (422, "corrupted", m.CorruptedError), (500, "vm_failed", m.VmFailedError), (418, "teapot", m.InternalError),
])
def test_error_mapping(status, code, cls):
    e = error_from_response(status, b'{"error": {"code": "%s", "message": "why"}}' % code.encode(), {"retry-after": "1"})
    assert type(e) is cls and (e.code, e.status, e.message, e.retry_after) == (code, status, "why", 1.0)
    assert isinstance(e, m.MicroVMError)


def test_error_without_body_maps_by_status():
    e = error_from_response(404, b"", {})
    assert isinstance(e, m.NotFoundError) and e.code == "http_404"
    assert isinstance(error_from_response(409, b"not json", {}), m.ConflictError)
