"""Several balancers behind the gateway's ECMP: which balancers the gateway routes a VIP to,
a balancer that dies without a word, and the clients that keep traffic going meanwhile."""
import ipaddress
import json
import os
import signal

from e2e.traffic import LineClient

# Every packet into, through and out of the node's stack dropped, before any other rule.
DARK = (
    "add table inet dogfish_dark ; "
    "add chain inet dogfish_dark incoming { type filter hook input priority -400 ; policy drop ; } ; "
    "add chain inet dogfish_dark forwarded { type filter hook forward priority -400 ; policy drop ; } ; "
    "add chain inet dogfish_dark outgoing { type filter hook output priority -400 ; policy drop ; }"
)


def next_hops(lab, vip):
    """The balancers the gateway's kernel routes the VIP's address to (its ECMP next hops)."""
    by_iface = {b["gateway_interface"]: b["node"] for b in lab.status["balancers"]}
    version = ipaddress.ip_address(vip["address"]).version
    out = lab.exec(lab.gateway, "ip", "-j", f"-{version}", "route", "show", vip["address"]).stdout
    hops = set()
    for route in json.loads(out or "[]"):
        for hop in route.get("nexthops", [route]):
            if "dev" in hop:
                hops.add(by_iface.get(hop["dev"], hop["dev"]))
    return hops


def go_dark(lab, node):
    """The balancer dies as a machine that loses power: its stack drops every packet
    (nftables; its BGP and BFD fall silent, BIRD itself keeps running), its daemon is
    SIGKILLed (no withdrawal) and its XDP program detached (XDP runs before nftables and
    would go on forwarding). Only the gateway's BFD, or its BGP hold timer, can tell."""
    b = lab.balancer_status(node)
    lab.exec(node, "nft", DARK)
    os.kill(b["pid"], signal.SIGKILL)
    for mode in ("xdp", "xdpgeneric"):
        lab.exec(node, "ip", "link", "set", "dev", b["interface"], mode, "off")
    out = lab.exec(node, "ip", "-j", "link", "show", "dev", b["interface"]).stdout
    assert "xdp" not in json.loads(out)[0], f"{node}: an XDP program is still attached: {out}"


class UdpStream(LineClient):
    """clients/udp_stream.py: UDP flows that each send a request every `interval` seconds."""

    def __init__(self, lab, targets, *, interval=0.05, duration=120, watch=None):
        args = [*targets, "--interval", interval, "--duration", duration]
        super().__init__(lab, "udp_stream.py", *args, watch=watch)
        self.ready = self.answer(timeout=30)
        assert self.ready["ready"], f"UDP flows without a first answer: {self.ready}"

    def report(self):
        self.send("report")
        return self.answer()

    def stop(self):
        self.send("stop")
        final = self.answer(timeout=30)
        self.wait()
        return final
