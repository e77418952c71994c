"""Sends an encapsulated TCP SYN with scapy and waits for the SYN-ACK.

Run inside the sender's network namespace by test_netns.py:
  netns_send.py IFACE DST_MAC ENCAP OUTER_SRC OUTER_DST CLIENT VIP PORT [TIMEOUT]
ENCAP is 4in4, 6in6 or 4in6, or gue_4in4, gue_6in6 or gue_4in6 (the same in UDP to port 6080,
GUE direct IP). Prints the SYN-ACK's source address and port on success; exits 1 if none came
back within TIMEOUT seconds (default 10).
"""
import sys
import time

from scapy.all import IP, UDP, IPv6, TCP, AsyncSniffer, Ether, conf, sendp  # noqa: E402

GUE_PORT = 6080


def main():
    iface, dst_mac, encap, outer_src, outer_dst, client, vip, port = sys.argv[1:9]
    port = int(port)
    timeout = float(sys.argv[9]) if len(sys.argv) > 9 else 10.0
    sport = 40000 + (int(time.time() * 1000) % 20000)
    conf.verb = 0
    gue = encap.startswith("gue_")
    kind = encap.removeprefix("gue_")
    if kind == "4in4":
        outer = IP(src=outer_src, dst=outer_dst, proto=17 if gue else 4)
    else:
        outer = IPv6(src=outer_src, dst=outer_dst, nh=17 if gue else 41 if kind == "6in6" else 4)
    if gue:
        # GUE direct IP: the inner packet right after the UDP header; scapy fills the checksum.
        outer = outer / UDP(sport=0xC000 | sport, dport=GUE_PORT)
    inner = IPv6(src=client, dst=vip) if kind == "6in6" else IP(src=client, dst=vip)
    frame = Ether(dst=dst_mac) / outer / inner / TCP(sport=sport, dport=port, flags="S", seq=1000)

    def is_synack(p):
        return (
            TCP in p
            and p[TCP].sport == port
            and p[TCP].dport == sport
            and (p[TCP].flags & 0x12) == 0x12
        )

    sniffer = AsyncSniffer(iface=iface, lfilter=is_synack, count=1, store=True)
    sniffer.start()
    deadline = time.monotonic() + timeout
    try:
        # Resend until the answer is seen: the sniffer's socket may open after the first send.
        while time.monotonic() < deadline:
            sendp(frame, iface=iface)
            sniffer.join(timeout=0.3)
            if sniffer.results:
                break
    finally:
        if sniffer.running:
            sniffer.stop()
    if not sniffer.results:
        print(f"no SYN-ACK from {vip}:{port} within {timeout} s", file=sys.stderr)
        return 1
    reply = sniffer.results[0]
    l3 = reply[IPv6] if IPv6 in reply else reply[IP]
    print(f"{l3.src} {reply[TCP].sport}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
