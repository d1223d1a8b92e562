"""Network status and egress policy, on a VM with a NIC that is never
started (its policy lives in its record; nothing is sent anywhere)."""

from __future__ import annotations

import pytest

import microvm_sandbox as m

from conftest import NO_NETWORK, unique


def test_network_and_policy(api):
    spec = {"mode": "egress", "policy": {"default": "deny", "allow": ["example.test"]}}
    with api.create(unique("net"), "minimal", start=False, network=spec) as sb:
        assert sb.state in ("created", "stopped")
        status = sb.network()
        assert status.mode == "egress" and status.attached is False and status.mac
        policy = sb.network_policy()
        # The service answers rules in their object form.
        assert (policy.default, policy.allow, policy.deny) == ("deny", [{"domain": "example.test"}], [])
        wanted = m.NetworkPolicy("deny", allow=[{"domain": "pypi.test", "ports": ["443"]}, "198.51.100.0/24"], deny=["bad.example.test"])
        normal = {"default": "deny", "allow": [{"domain": "pypi.test", "ports": ["443"]}, {"cidr": "198.51.100.0/24"}],
                  "deny": [{"domain": "bad.example.test"}]}
        assert sb.set_network_policy(wanted).to_json() == normal
        assert sb.network_policy().to_json() == normal
        assert sb.set_network_policy({"default": "allow"}).default == "allow"
        with pytest.raises(m.InvalidArgumentError) as e:
            sb.set_network_policy({"default": "maybe"})
        assert e.value.status == 400


def test_policy_of_a_vm_without_nic_is_a_conflict(api):
    with api.create(unique("nonic"), "minimal", start=False, network=NO_NETWORK) as sb:
        assert sb.network().mode == "none"
        with pytest.raises(m.InvalidStateError):
            sb.network_policy()
