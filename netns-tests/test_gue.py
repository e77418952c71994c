"""Check 10: the lab on GUE (topologies/gue.yaml). The balancer reaches every real in UDP to the
GUE port with the client's packet right after the UDP header (GUE direct IP), each real's
dogfish-decap strips it, and the real answers straight to the client (DSR).

For each family, CONNECTIONS TCP connections and UDP_FLOWS UDP flows to the VIP all succeed and
every real serves a share of them; captures on the gateway's link to each real show every SYN
of the flows that real answered arriving as GUE: outer destination that real's address (real3
takes the IPv4 VIP's flows on its IPv6 address: IPv4 in GUE over IPv6), outer source in the
source prefix, UDP to the GUE port from one source port per flow in 49152-65535, a UDP checksum
that verifies over IPv6 and none (0) over IPv4; its SYN-ACKs leave plain from the VIP. The
reals' decap counters count GUE, no IP in IP. Then a change: a real taken out of the TCP VIPs
gets no new connection, and added back (`dogfish real add`) it gets them again, still by GUE.
Last, the health probes go by GUE too (the balancer's tc egress path): real1's decap told to
take no GUE makes it down in every VIP, and told again, up."""
import ipaddress
import json
import os
from collections import defaultdict

import pytest
from scapy.layers.inet import IP, UDP

from e2e.capture import capturing
from e2e.lab import progress, vip_spec
from e2e.packets import decode_gue, encapsulated, flow, gue_udp, is_syn, is_synack, without_probes
from e2e.traffic import shares
from testlib import paths
from testlib.command import wait_for

# The lab makes kernel tunnels for IP in IP only (no FOU): GUE is dogfish-decap's here.
pytestmark = pytest.mark.skipif(
    os.environ.get("DOGFISH_LAB_DECAP") == "kernel",
    reason="DOGFISH_LAB_DECAP=kernel: the lab has no kernel GUE (FOU) decap; this checks the BPF one",
)

CONNECTIONS = 90  # per VIP: a real's share (30 +- 4.5) is far above the floor asserted
UDP_FLOWS = 10
PROBES = 60  # new connections per VIP after a change
DECAP = paths.binary("DOGFISH_DECAP", "decap/dogfish-decap")


@pytest.fixture(scope="module")
def lab(gue_lab):
    b = gue_lab.status["balancer"]
    assert b["encap"] == "gue", f"gue.yaml's balancer sends {b['encap']}"
    decode_gue(b["gue_port"])
    return gue_lab


def decap_reasons(lab, real):
    """The real's dogfish-decap counters, summed over its interfaces."""
    out = json.loads(lab.exec(real, DECAP, "stats", "--json").stdout)
    total = defaultdict(int)
    for iface in out["interfaces"]:
        for reason, n in iface["reasons"].items():
            total[reason] += n
    return total


def udp_checksum_verifies(outer):
    """The outer UDP checksum is the one scapy computes for the datagram as captured."""
    c = outer.__class__(bytes(outer))
    sent = c[UDP].chksum
    del c[UDP].chksum
    return c.__class__(bytes(c))[UDP].chksum == sent


@pytest.mark.parametrize("version", [4, 6])
def test_dsr_over_gue_to_every_real(lab, tmp_path, version):
    vip, udp_vip = lab.vip(version, "tcp"), lab.vip(version, "udp")
    target = vip_spec(vip["address"], vip["port"])
    udp_target = vip_spec(udp_vip["address"], udp_vip["port"])
    vip_addr = ipaddress.ip_address(vip["address"])
    port = lab.status["balancer"]["gue_port"]
    prefixes = lab.source_prefixes()
    outer_of = {r["node"]: ipaddress.ip_address(r["address"]) for r in vip["reals"]}
    gw = lab.gateway
    points = [(gw, r) for r in lab.reals]

    decap_before = {r: decap_reasons(lab, r) for r in lab.reals}
    with capturing(lab, points, tmp_path / "gue", watch=lab.watch, snaplen=200) as caps:
        out = lab.client_script("tcp_flows.py", "--count", CONNECTIONS, target)[target]
        udp = lab.client_script("udp_flows.py", "--count", UDP_FLOWS, udp_target)[udp_target]
    assert out["failed"] == [], f"{len(out['failed'])} connections failed: {out['failed'][:5]}"
    assert udp["lost"] == 0 and udp["wrong_source"] == [], f"UDP through GUE: {udp}"
    served = defaultdict(set)
    for client_port, real in out["flows"]:
        served[real].add(client_port)
    got = shares(out["flows"])
    assert set(got) == set(outer_of), f"answered by {got}"
    assert min(got.values()) >= CONNECTIONS // 9, f"a real got too few of the flows: {got}"

    lines = []
    for real in lab.reals:
        link = without_probes(caps[(gw, real)].packets, lab.balancer_addresses())
        syns = [p for p in link if is_syn(p)]
        sports = defaultdict(set)
        for p in syns:
            pair = encapsulated(p)
            assert pair is not None, f"{real}: a SYN arrived plain: {p.summary()}"
            outer, _inner = pair
            udp_hdr = gue_udp(outer)
            assert udp_hdr is not None, f"{real}: a SYN arrived in IP in IP: {p.summary()}"
            assert udp_hdr.dport == port and udp_hdr.sport >= 0xC000, p.summary()
            outer_dst = ipaddress.ip_address(outer.dst)
            assert outer_dst == outer_of[real], f"{real}: outer destination {outer_dst}"
            assert ipaddress.ip_address(outer.src) in prefixes[outer_dst.version], outer.src
            if isinstance(outer, IP):
                assert udp_hdr.chksum == 0, "over IPv4 GUE sends no UDP checksum"
            else:
                assert udp_hdr.chksum != 0 and udp_checksum_verifies(outer), p.summary()
            sports[flow(p)[1]].add(udp_hdr.sport)
        assert set(sports) == served[real], f"{real}: SYNs of other flows than it answered"
        assert all(len(s) == 1 for s in sports.values()), f"{real}: a flow changed source port"
        synacks = [p for p in link if is_synack(p)]
        assert synacks and all(
            not encapsulated(p) and flow(p)[0] == vip_addr for p in synacks
        ), f"{real}: a SYN-ACK not plain from the VIP"
        stripped = decap_reasons(lab, real)
        kind = f"decap_gue_{version}in{outer_of[real].version}"
        grew = stripped[kind] - decap_before[real][kind]
        assert grew >= len(syns), f"{real}: {kind} grew by {grew} for {len(syns)} SYNs"
        assert all(stripped[f"decap_{k}"] == 0 for k in ("4in4", "6in6", "4in6")), stripped
        lines.append(f"{real} {len(served[real])} flows, {kind} +{grew}")
    progress(
        f"IPv{version}: {CONNECTIONS} connections and {UDP_FLOWS} UDP flows; " + "; ".join(lines)
    )


def test_a_real_taken_out_and_added_back(lab):
    vips = [lab.vip(v, "tcp") for v in (4, 6)]
    targets = [vip_spec(v["address"], v["port"]) for v in vips]

    def where():
        out = lab.client_script("tcp_flows.py", "--count", PROBES, *targets)
        for t, r in out.items():
            assert r["failed"] == [], f"new connections to {t} failed: {r['failed'][:5]}"
        return {t: shares(r["flows"]) for t, r in out.items()}

    lab.set_real(vips, "real1", "del")
    out = where()
    assert all("real1" not in s for s in out.values()), f"real1 taken out, yet: {out}"
    lab.set_real(vips, "real1", "add")
    back = where()
    assert all("real1" in s for s in back.values()), f"real1 added back, yet: {back}"
    encaps = {r["address"]: r["encap"] for r in lab.reals_of(targets[0], "tcp")}
    assert set(encaps.values()) == {"gue"}, f"the reals' encapsulations: {encaps}"
    progress(f"real1 out: {out}; back: {back}")


def decap_attach(lab, real, *extra):
    """dogfish-decap attach on the real's link to the gateway, as the lab does, with `extra`."""
    args = ["attach", "--iface", lab.gateway]
    for version in (4, 6):
        args += ["--addr", lab.address(real, version)]
    for prefix in lab.source_prefixes().values():
        args += ["--from", str(prefix)]
    lab.exec(real, DECAP, *args, *extra)


def test_health_probes_go_by_gue(lab):
    vips = [lab.vip(version, proto) for version in (4, 6) for proto in ("tcp", "udp")]

    def states(real):
        out = set()
        for v in vips:
            for r in lab.reals_of(vip_spec(v["address"], v["port"]), v["proto"]):
                if r["address"] == lab.address(real, ipaddress.ip_address(v["address"]).version):
                    out.add(r["health"]["state"])
        return out

    # The lab's checks: every 500 ms, fall and rise 2 (lab/src/plan.cpp).
    assert states("real1") == {"up"}
    try:
        decap_attach(lab, "real1", "--gue-port", "0")
        wait_for(lambda: states("real1") == {"down"}, "real1 down in every VIP", timeout=5)
    finally:
        decap_attach(lab, "real1")
    wait_for(lambda: states("real1") == {"up"}, "real1 up again in every VIP", timeout=5)
    progress("real1 taking no GUE: down in every VIP; taking it again: up")
