"""Check 5: UDP. Request/response flows through each UDP VIP: every request answered, from
the VIP itself (DSR: captures on the balancer's link show every request going through it
once, encapsulated, and no answer); each flow stuck to one real, both reals used. And stuck
for real, not just by the hash: flows whose real is drained keep it (the connection table),
while new flows avoid it."""
import ipaddress
from collections import Counter

import pytest
from scapy.layers.inet import UDP

from e2e.capture import capturing
from e2e.lab import progress, vip_spec
from e2e.packets import encapsulated, inner_ip, sources, without_probes
from e2e.traffic import LineClient

FLOWS, DATAGRAMS = 300, 5
# Below the kernel's ephemeral ports: flows from these are new to the connection table
# (a kernel-picked port may repeat one of an earlier flow, which the table still knows).
FRESH_PORTS = 20000


def check_round(out, flows, datagrams):
    assert out["lost"] == 0, f"{out['lost']} of {flows * datagrams} requests unanswered"
    assert out["wrong_source"] == [], f"answers not from the VIP: {out['wrong_source'][:5]}"
    assert len(out["flows"]) == flows
    split = [(port, reals) for port, reals in out["flows"] if len(set(reals)) != 1]
    assert split == [], f"flows answered by more than one real: {split[:5]}"
    return {port: reals[0] for port, reals in out["flows"]}


@pytest.mark.parametrize("version", [4, 6])
def test_requests_are_answered_from_the_vip_by_one_real_a_flow(basic_lab, tmp_path, version):
    lab = basic_lab
    vip = lab.vip(version, "udp")
    vip_addr = ipaddress.ip_address(vip["address"])
    target = vip_spec(vip["address"], vip["port"])
    points = [(lab.gateway, lab.balancer), (lab.balancer, lab.balancer_iface)]
    with capturing(lab, points, tmp_path / "udp", watch=lab.watch) as caps:
        out = lab.client_script("udp_flows.py", "--count", FLOWS, "--datagrams", DATAGRAMS, target)[
            target
        ]
    real_of = check_round(out, FLOWS, DATAGRAMS)
    used = Counter(real_of.values())
    assert set(used) == {r["node"] for r in vip["reals"]}, f"flows went to {dict(used)}"

    # The balancer's own health probes to the VIP and their answers cross its link: not these.
    seen = {key: without_probes(cap.packets, lab.balancer_addresses()) for key, cap in caps.items()}
    for key in points:
        from_vip = [p.summary() for p in seen[key] if vip_addr in sources(p)]
        assert from_vip == [], f"{caps[key]}: answers crossed the balancer: {from_vip[:3]}"
    link = seen[(lab.gateway, lab.balancer)]

    def udp_to_vip(p):
        ip = inner_ip(p)
        return (
            ip is not None
            and isinstance(ip.payload, UDP)
            and ipaddress.ip_address(ip.dst) == vip_addr
        )

    plain = sum(1 for p in link if udp_to_vip(p) and not encapsulated(p))
    encap = sum(1 for p in link if udp_to_vip(p) and encapsulated(p))
    assert plain == encap == FLOWS * DATAGRAMS, f"{plain} requests in, {encap} out encapsulated"
    progress(
        f"IPv{version} UDP: {FLOWS} flows x {DATAGRAMS} requests, 0 lost, all from the VIP; "
        f"flows per real {dict(used)}; {encap} encapsulated requests, 0 answers on the balancer's link"
    )


@pytest.mark.parametrize("version", [4, 6])
def test_a_flow_keeps_its_real_when_that_real_is_drained(basic_lab, version):
    lab = basic_lab
    vip = lab.vip(version, "udp")
    target = vip_spec(vip["address"], vip["port"])
    drained = vip["reals"][0]
    held = LineClient(lab, "udp_flows.py", "--count", 100, "--hold", target, watch=lab.watch)
    try:
        first = check_round(held.answer()[target], 100, 1)
        on_drained = [p for p, r in first.items() if r == drained["node"]]
        assert on_drained, f"no flow went to {drained['node']}: {Counter(first.values())}"
        lab.dogfish("real", "edit", target, drained["address"], "--proto", "udp", "--weight", 0)
        held.send("again")
        second = check_round(held.answer()[target], 100, 1)
        held.wait()
        moved = {p: (first[p], second[p]) for p in first if first[p] != second[p]}
        assert moved == {}, f"flows changed real after the drain: {moved}"
        fresh = lab.client_script(
            "udp_flows.py", "--count", 100, "--first-port", FRESH_PORTS, target
        )[target]
        new = Counter(check_round(fresh, 100, 1).values())
        assert (
            drained["node"] not in new
        ), f"new flows still go to the drained {drained['node']}: {new}"
        progress(
            f"IPv{version} UDP: {len(on_drained)} of 100 flows on {drained['node']} kept it after the "
            f"drain; 100 new flows went to {dict(new)}"
        )
    finally:
        held.kill()
        lab.dogfish(
            "real",
            "edit",
            target,
            drained["address"],
            "--proto",
            "udp",
            "--weight",
            drained["weight"],
        )
