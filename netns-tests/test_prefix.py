"""Prefix VIPs (issue 19): a VIP that is every address of a prefix. The default lab with a prefix
VIP of each family beside its own (conftest's PREFIX_VIPS, TCP port 80, both reals; the gateway
routes each prefix to the balancer, each real takes it on lo as a local route). Connections to
several addresses of each prefix are served by DSR: every one answered by a real, counted under
the prefix VIP and no other, each SYN seen on the balancer's link going in plain and coming back
encapsulated to a real, and nothing from the prefix crossing that link (the replies go from the
real straight to the client)."""
import ipaddress

import pytest

from conftest import PREFIX_VIPS
from e2e.capture import capturing
from e2e.lab import progress, vip_spec
from e2e.packets import encapsulated, flow, is_syn, sources, without_probes

ADDRESSES = (1, 77, 200)  # host numbers inside each prefix
CONNECTIONS = 4  # per address


def packets_of(stats, name):
    return next(v["packets"] for v in stats["vips"] if v["vip"] == name)


@pytest.mark.parametrize("version", [4, 6])
def test_addresses_of_a_prefix_vip_are_served_by_dsr(prefix_lab, tmp_path, version):
    lab = prefix_lab
    prefix = ipaddress.ip_network(PREFIX_VIPS[version])
    listed = [v for v in lab.status["vips"] if v.get("prefix_len") == prefix.prefixlen]
    assert [(v["address"], v["port"]) for v in listed] == [(str(prefix.network_address), 80)]
    name = f"{vip_spec(str(prefix), 80)}/tcp"
    own = f"{vip_spec(lab.vip(version, 'tcp')['address'], 80)}/tcp"  # the lab's own VIP
    targets = [vip_spec(str(prefix.network_address + n), 80) for n in ADDRESSES]
    gw, lb = lab.gateway, lab.balancer

    with capturing(lab, [(gw, lb)], tmp_path / "prefix", watch=lab.watch, snaplen=160) as caps:
        before = lab.stats()
        out = lab.client_script("tcp_flows.py", "--count", CONNECTIONS, *targets)
    after = lab.stats()
    seen = without_probes(caps[(gw, lb)].packets, lab.balancer_addresses())

    reals = {r["node"] for r in listed[0]["reals"]}
    for t in targets:
        assert out[t]["failed"] == [], f"{t}: {out[t]['failed']}"
        assert {real for _, real in out[t]["flows"]} <= reals, f"{t}: {out[t]['flows']}"
    assert packets_of(after, name) - packets_of(before, name) >= len(targets) * CONNECTIONS * 3
    assert packets_of(after, own) == packets_of(before, own), "counted under the address's VIP"

    in_prefix = [p for p in seen if flow(p) and flow(p)[2] in prefix]
    syns_in = {flow(p)[1] for p in in_prefix if is_syn(p) and not encapsulated(p)}
    syns_out = {flow(p)[1] for p in in_prefix if is_syn(p) and encapsulated(p)}
    ports = {port for t in targets for port, _ in out[t]["flows"]}
    assert syns_in == ports, f"{len(ports - syns_in)} SYNs not seen going to the balancer"
    assert syns_out == ports, f"{len(ports - syns_out)} SYNs not seen coming back encapsulated"
    from_prefix = [p.summary() for p in seen if any(s in prefix for s in sources(p))]
    assert from_prefix == [], f"replies crossed the balancer's link: {from_prefix[:3]}"
    progress(
        f"IPv{version} {name}: {len(ports)} connections to {len(targets)} addresses, answered by "
        f"{sorted({real for t in targets for _, real in out[t]['flows']})}, none back through the "
        f"balancer"
    )
