"""`dogfish flow`: which real a flow goes to now, and why. Long-lived TCP connections to both TCP
VIPs are each named by the real that answers them, from the connection table; UDP flows asked
about before they exist are answered from the ring, and then served by the real it named; fresh
TCP flows, once closed, are still named by the real that served them (the table keeps an entry
until the LRU evicts it). Bad questions are refused naming the value."""
import ipaddress
import json

import pytest

from e2e.lab import vip_spec
from e2e.traffic import Talker, broken

PER_VIP = 16
UDP_FLOWS = 24
UDP_FIRST_PORT = 47000
TCP_FLOWS = 16


def ask(lab, version, port, vip):
    """`dogfish flow CLIENT:PORT VIP/PROTO --json` for the client node's flow from `port`."""
    client = vip_spec(lab.address(lab.client, version), port)
    target = f"{vip_spec(vip['address'], vip['port'])}/{vip['proto']}"
    return json.loads(lab.dogfish("flow", client, target, "--json").stdout)


def version_of(vip):
    return ipaddress.ip_address(vip["address"]).version


def test_every_long_lived_connection_is_named_by_its_real_from_the_table(basic_lab):
    lab = basic_lab
    vips = [lab.vip(4, "tcp"), lab.vip(6, "tcp")]
    by_target = {vip_spec(v["address"], v["port"]): v for v in vips}
    talker = Talker(lab, [f"{t}={PER_VIP}" for t in by_target], interval=0.2, watch=lab.watch)
    try:
        conns = talker.ready["conns"]
        assert len(conns) == PER_VIP * len(vips)
        for c in conns:
            vip = by_target[c["target"]]
            a = ask(lab, version_of(vip), c["port"], vip)
            assert a["from"] == "table", f"{c['target']} port {c['port']}: {a}"
            assert lab.real_node_of(a["real"]) == c["real"], f"{c['target']} port {c['port']}: {a}"
        final = talker.stop()
    finally:
        talker.kill()
    assert not broken(final), f"connections broke: {broken(final)}"


@pytest.mark.parametrize("version", [4, 6])
def test_a_udp_flow_goes_where_the_ring_said_and_the_table_then_says_so(basic_lab, version):
    lab = basic_lab
    vip = lab.vip(version, "udp")
    ports = range(UDP_FIRST_PORT + 100 * version, UDP_FIRST_PORT + 100 * version + UDP_FLOWS)
    before = {p: ask(lab, version, p, vip) for p in ports}
    for p, a in before.items():
        assert a["from"] == "ring" and "slot" in a, f"port {p}, a flow never seen: {a}"
    target = vip_spec(vip["address"], vip["port"])
    out = lab.client_script("udp_flows.py", "--count", UDP_FLOWS, "--first-port", ports[0], target)[
        target
    ]
    assert out["lost"] == 0 and len(out["flows"]) == UDP_FLOWS, out
    for port, reals in out["flows"]:
        assert reals == [lab.real_node_of(before[port]["real"])], f"port {port}: {before[port]}"
        after = ask(lab, version, port, vip)
        assert after["from"] == "table", f"port {port}: {after}"
        assert after["real"] == before[port]["real"], f"port {port}: {before[port]} then {after}"
    assert len({a["real"] for a in before.values()}) > 1, "the ring named one real only"


@pytest.mark.parametrize("version", [4, 6])
def test_fresh_tcp_flows_are_named_by_the_real_that_served_them(basic_lab, version):
    lab = basic_lab
    vip = lab.vip(version, "tcp")
    target = vip_spec(vip["address"], vip["port"])
    out = lab.client_script("tcp_flows.py", "--count", TCP_FLOWS, target)[target]
    assert out["failed"] == [] and len(out["flows"]) == TCP_FLOWS, out
    for port, real in out["flows"]:
        a = ask(lab, version, port, vip)
        assert a["from"] == "table", f"port {port}: {a}"
        assert lab.real_node_of(a["real"]) == real, f"port {port}: {a}"


def test_bad_questions_are_refused_naming_the_value(basic_lab):
    lab = basic_lab
    vip = lab.vip(4, "tcp")
    target = f"{vip_spec(vip['address'], vip['port'])}/tcp"
    client6 = vip_spec(lab.address(lab.client, 6), 40000)
    cases = {
        (client6, target): f"client {client6} is IPv6, VIP {target} is IPv4",
        ("10.0.0.2:0", target): "'10.0.0.2:0' is not a client ADDRESS:PORT",
        ("10.0.0.2:4000", f"{vip['address']}:9/tcp"): f"unknown VIP {vip['address']}:9/tcp",
    }
    for (client, vip_text), message in cases.items():
        p = lab.dogfish("flow", client, vip_text, check=False)
        assert p.returncode != 0 and message in p.stderr, f"{client} {vip_text}: {p.stderr}"
