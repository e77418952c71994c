"""UDP request/response through a VIP: COUNT flows per target, each its own socket (its own
source port), each sending DATAGRAMS requests one after another and waiting for each answer.
Prints one JSON line: {"HOST:PORT": {"flows": [[local_port, [real, ...]], ...], "lost": n,
"wrong_source": ["addr:port", ...]}}; an answer must come from the VIP itself (DSR).
With --hold the sockets stay open: after the first round it waits for a line on stdin, then
runs a second round on the same sockets (the same flows) and prints a second line."""
import argparse
import ipaddress
import json
import socket
import sys
import time

from http_client import parse_target


class Flow:
    def __init__(self, host, port, timeout, local_port=0):
        self.host, self.port = host, port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        self.sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", local_port))
        self.local_port = self.sock.getsockname()[1]

    def ask(self, datagrams, result):
        reals = []
        for i in range(datagrams):
            self.sock.sendto(f"request {i}\n".encode(), (self.host, self.port))
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                result["lost"] += 1
                continue
            if (
                ipaddress.ip_address(peer[0]) != ipaddress.ip_address(self.host)
                or peer[1] != self.port
            ):
                result["wrong_source"].append(f"{peer[0]}:{peer[1]}")
            reals.append(data.decode().strip())
        result["flows"].append([self.local_port, reals])


def one_round(flows, datagrams):
    result = {}
    for target, fs in flows.items():
        r = result[target] = {"flows": [], "lost": 0, "wrong_source": []}
        t0 = time.monotonic()
        for f in fs:
            f.ask(datagrams, r)
        r["seconds"] = time.monotonic() - t0
    print(json.dumps(result), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("targets", nargs="+", help="HOST:PORT, IPv6 as [ADDR]:PORT")
    ap.add_argument("--count", type=int, required=True, help="flows per target")
    ap.add_argument("--datagrams", type=int, default=1, help="requests per flow and round")
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument(
        "--first-port",
        type=int,
        default=0,
        help="bind the flows to ports from this one up (default: the kernel picks)",
    )
    ap.add_argument(
        "--hold", action="store_true", help="a second round on the same flows after a stdin line"
    )
    args = ap.parse_args()

    def local_port(i):
        return args.first_port + i if args.first_port else 0

    flows = {
        t: [Flow(*parse_target(t), args.timeout, local_port(i)) for i in range(args.count)]
        for t in args.targets
    }
    one_round(flows, args.datagrams)
    if args.hold:
        sys.stdin.readline()
        one_round(flows, args.datagrams)


if __name__ == "__main__":
    main()
