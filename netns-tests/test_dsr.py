"""Check 1: DSR works. 500 TCP connections (DOGFISH_DSR_CONNECTIONS) from the client to each
VIP (IPv4, IPv6) all succeed; captures on both ends of the balancer's link show every client packet going in
and coming back encapsulated, and no packet from the VIP (the replies never cross the
balancer); captures on each real's link show the encapsulated frames of exactly the flows
that real answered, and its replies leaving plain, from the VIP. The balancer's own health
probes (to the VIP through each real, from the balancer's address) and their answers are
left out of every capture."""
import ipaddress
import os
from collections import defaultdict

import pytest

from e2e.capture import capturing
from e2e.lab import progress, reason_deltas, vip_spec
from e2e.packets import (
    encapsulated,
    flow,
    ip_layers,
    is_syn,
    is_synack,
    sources,
    without_probes,
)

# Fewer in CI's emulated guest (lab/vm/guest-test), where parsing the captures of 500 is most of
# six minutes.
CONNECTIONS = int(os.environ.get("DOGFISH_DSR_CONNECTIONS", "500"))


def inside_point(lab, real, version):
    """Where a real's stack sees the client's packets after decap: with dogfish-decap, its link
    (XDP runs before the capture); with kernel tunnels (DOGFISH_LAB_DECAP=kernel, in the VM),
    the tunnel device of the family, since the link itself shows them still encapsulated."""
    if lab.node(real).get("decap") == "kernel":
        return (real, "dfipip" if version == 4 else "dfip6tnl")
    return (real, lab.gateway)


@pytest.mark.parametrize("version", [4, 6])
def test_connections_succeed_and_replies_bypass_the_balancer(basic_lab, tmp_path, version):
    lab = basic_lab
    vip = lab.vip(version, "tcp")
    vip_addr = ipaddress.ip_address(vip["address"])
    client_addr = ipaddress.ip_address(lab.address(lab.client, version))
    target = vip_spec(vip["address"], vip["port"])
    gw, lb = lab.gateway, lab.balancer
    points = [(lb, lab.balancer_iface), (gw, lb)]
    points += [(gw, r) for r in lab.reals] + [inside_point(lab, r, version) for r in lab.reals]

    with capturing(lab, points, tmp_path / "dsr", watch=lab.watch, snaplen=160) as caps:
        before = lab.stats()  # the captures see all the counters will count
        out = lab.client_script("tcp_flows.py", "--count", CONNECTIONS, target)[target]
    deltas = reason_deltas(before, lab.stats())
    lb_addrs = lab.balancer_addresses()
    seen = {point: without_probes(cap.packets, lb_addrs) for point, cap in caps.items()}

    assert (
        out["failed"] == []
    ), f"{len(out['failed'])} of {CONNECTIONS} connections failed: {out['failed'][:5]}"
    assert len(out["flows"]) == CONNECTIONS
    served = defaultdict(set)
    for port, real in out["flows"]:
        served[real].add(port)
    all_ports = {p for p, _ in out["flows"]}
    assert set(served) == {r["node"] for r in vip["reals"]}, f"answered by {dict(served)}"

    def ports(packets, pick):
        """The client's ports of the picked packets, whichever way they go."""
        return {
            f[1] if f[0] == client_addr else f[3] for p in packets if pick(p) and (f := flow(p))
        }

    # The balancer's link, both ends: nothing the VIP sent crosses it.
    for key in points[:2]:
        from_vip = [p.summary() for p in seen[key] if vip_addr in sources(p)]
        assert (
            from_vip == []
        ), f"{caps[key]}: {len(from_vip)} packets from the VIP, e.g. {from_vip[:3]}"
    # ...and the gateway's end saw the traffic: each SYN going in plain, and back encapsulated.
    gw_lb = seen[(gw, lb)]
    plain_in = ports(gw_lb, lambda p: is_syn(p) and not encapsulated(p) and flow(p)[2] == vip_addr)
    encap_out = ports(gw_lb, lambda p: is_syn(p) and encapsulated(p) is not None)
    assert plain_in == all_ports, f"{len(all_ports - plain_in)} SYNs not seen going to the balancer"
    assert (
        encap_out == all_ports
    ), f"{len(all_ports - encap_out)} SYNs not seen coming back encapsulated"
    encap_frames = sum(1 for p in gw_lb if encapsulated(p))
    assert deltas["tx"] == encap_frames, "the balancer's tx count and the frames it sent differ"
    # What the balancer's stack saw (XDP passed it): nothing to or from the VIP at all; every
    # client packet was taken by XDP and sent on.
    passed = [
        p.summary()
        for p in seen[points[0]]
        if any(
            vip_addr in (ipaddress.ip_address(ip.src), ipaddress.ip_address(ip.dst))
            for ip in ip_layers(p)
        )
    ]
    assert passed == [], f"the balancer's stack saw VIP traffic: {passed[:5]}"

    for real in lab.reals:
        link = seen[(gw, real)]
        real_addr = ipaddress.ip_address(lab.address(real, version))
        syns = [p for p in link if is_syn(p)]
        assert all(encapsulated(p) for p in syns), f"{real}: a SYN arrived unencapsulated"
        assert all(ipaddress.ip_address(encapsulated(p)[0].dst) == real_addr for p in syns)
        assert (
            ports(syns, lambda p: True) == served[real]
        ), f"{real}: SYNs of other flows than it answered"
        # Its replies leave plain, from the VIP to the client: straight back, no balancer.
        synacks = [p for p in link if is_synack(p)]
        assert all(
            not encapsulated(p) and flow(p)[0] == vip_addr and flow(p)[2] == client_addr
            for p in synacks
        )
        assert ports(synacks, lambda p: True) == served[real]
        # On the real itself, after decap: the client's packets, plain.
        inside = seen[inside_point(lab, real, version)]
        assert ports(inside, lambda p: is_syn(p) and not encapsulated(p)) == served[real]
        assert not any(
            encapsulated(p) for p in inside
        ), f"{real}: an encapsulated frame got past decap"
        progress(
            f"IPv{version} {real}: {len(served[real])} connections; {len(syns)} encapsulated SYNs "
            f"on its link, {len(synacks)} SYN-ACKs from the VIP"
        )
    progress(
        f"IPv{version}: {CONNECTIONS} connections, 0 failed, {out['seconds']:.2f} s; "
        f"balancer link: {len(gw_lb)} frames besides probes, 0 from the VIP; reasons {nonzero(deltas)}"
    )


def nonzero(deltas):
    return {k: v for k, v in deltas.items() if v}
