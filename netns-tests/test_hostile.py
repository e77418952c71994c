"""Check 6: hostile traffic. Crafted packets (e2e/hostile.py: truncated headers at each
layer, bad IHL and lengths, IPv4 options, fragments, odd TCP flag sets, IPv6 extension
headers, packets over the maximum size, malformed ICMP), sent while real connections run beside them:
the real connections all keep working, each kind is counted under its reason, and not one
crafted packet reaches a real (captures on every real's link, before and after decap)."""
import ipaddress
from collections import Counter

from scapy.utils import wrpcap

from e2e.capture import capturing
from e2e.hostile import FROM_CLIENT, HOSTILE, ON_BALANCER_LINK, frames, kinds
from e2e.lab import CLIENTS, progress, reason_deltas, vip_spec
from e2e.traffic import Talker, broken
from testlib.paths import PYTHON

COPIES = 25  # of each kind, each its own flow
FIRST_PORT = 1000  # crafted flows' source ports: below any the kernel hands out
BEYOND_THE_TEST = ("drop_no_real", "drop_real_family", "drop_adjust_head", "drop_no_gateway")


def hostile_bytes():
    """The crafted packets' source addresses as they appear in a frame."""
    return [ipaddress.ip_address(a).packed for a in HOSTILE.values()]


def carries_hostile(frame):
    raw = bytes(frame)
    return any(b in raw for b in hostile_bytes())


def send(lab, node, iface, packets, path):
    wrpcap(str(path), packets)
    return lab.exec(node, PYTHON, CLIENTS / "send_frames.py", iface, path).stdout


def test_crafted_packets_are_dropped_by_reason_while_real_connections_go_on(basic_lab, tmp_path):
    lab = basic_lab
    gw, lb, client = lab.gateway, lab.balancer, lab.client
    tcp4, tcp6 = lab.vip(4, "tcp"), lab.vip(6, "tcp")
    catalogue = kinds(tcp4["address"], tcp6["address"], tcp4["port"], lab.vip(4, "udp")["port"])
    from_client, onto_link, expected, per_kind = [], [], Counter(), {}
    macs = {
        FROM_CLIENT: (lab.mac(client, gw), lab.mac(gw, client)),
        ON_BALANCER_LINK: (lab.mac(gw, lb), lab.mac(lb, lab.balancer_iface)),
    }
    for k in catalogue:
        fs = frames(k, COPIES, FIRST_PORT, *macs[k.enters])
        (from_client if k.enters == FROM_CLIENT else onto_link).extend(fs)
        expected[k.reason] += len(fs)
        per_kind[k.name] = (k.reason, len(fs))

    targets = [f"{vip_spec(v['address'], v['port'])}=16" for v in (tcp4, tcp6)]
    talker = Talker(lab, targets, interval=0.05, churn=True, watch=lab.watch)
    try:
        before_report, before = talker.report(), lab.stats()
        points = [(gw, lb)] + [(gw, r) for r in lab.reals] + [(r, gw) for r in lab.reals]
        with capturing(lab, points, tmp_path / "hostile", watch=lab.watch) as caps:
            send(lab, client, gw, from_client, tmp_path / "from-client.pcap")
            send(lab, gw, lb, onto_link, tmp_path / "onto-link.pcap")
            during = talker.wait_exchanges(3, before_report)
        after = lab.stats()
        final = talker.stop()
    finally:
        talker.kill()

    deltas = reason_deltas(before, after)
    lines = [f"{name}: {n} -> {reason}" for name, (reason, n) in per_kind.items()]
    counted = {r: deltas[r] for r in expected}
    progress(
        f"{len(from_client)} crafted packets from the client, {len(onto_link)} onto the balancer's "
        f"link\n  "
        + "\n  ".join(lines)
        + f"\n  counted: {counted} (expected at least {dict(expected)})"
    )
    short = {r: (deltas[r], n) for r, n in expected.items() if deltas[r] < n}
    assert short == {}, f"reasons that counted fewer than were sent (counted, sent): {short}"
    assert {r: deltas[r] for r in BEYOND_THE_TEST if deltas[r]} == {}

    arrived = sum(1 for p in caps[(gw, lb)].packets if carries_hostile(p))
    assert arrived >= len(
        from_client
    ), f"only {arrived} crafted packets crossed the balancer's link"
    for point in points[1:]:
        reached = [p.summary() for p in caps[point].packets if carries_hostile(p)]
        assert reached == [], f"crafted packets reached {caps[point]}: {reached[:5]}"

    # The real connections beside them: none broke, none moved, and new ones kept coming.
    assert broken(final) == Counter(), f"real connections broke: {broken(final)}"
    assert [c for c in final["conns"] if c["moved"]] == []
    for target, churn in final["churn"].items():
        assert churn["failed"] == [], f"new connections to {target} failed: {churn['failed'][:5]}"
        assert (
            churn["ok"] > before_report["churn"][target]["ok"]
        ), f"no new connection to {target} meanwhile"
    talked = sum(c["exchanges"] for c in during["conns"]) - sum(
        c["exchanges"] for c in before_report["conns"]
    )
    progress(
        f"beside them: {len(final['conns'])} long-lived connections, 0 broken, {talked} exchanges; "
        + ", ".join(f"{t} {c['ok']} new connections, 0 failed" for t, c in final["churn"].items())
        + f"; {arrived} crafted packets crossed the balancer's link, 0 reached a real"
    )
