"""Opens COUNT TCP connections (new flows) to each target, one after another; on each
sends REQUESTS HTTP GETs (keep-alive between them) and notes which real answered.
Prints JSON: {"HOST:PORT": {"flows": [[local_port, real], ...], "failed": [error, ...]}}.
Run inside the client's namespace:
    dogfish-lab exec client -- python3 tcp_flows.py --count 500 10.100.0.1:80 [fd00:100::1]:80"""
import argparse
import json
import time

from http_client import Http, parse_target


def one_flow(host, port, requests, pad, timeout, tos):
    with Http(host, port, timeout, tos) as conn:
        reals = {conn.get(keep_alive=i + 1 < requests, pad=pad) for i in range(requests)}
        conn.wait_closed()
        if len(reals) != 1:
            raise RuntimeError(f"one connection answered by {sorted(reals)}")
        return conn.local_port, reals.pop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("targets", nargs="+", help="HOST:PORT, IPv6 as [ADDR]:PORT")
    ap.add_argument("--count", type=int, required=True, help="connections per target")
    ap.add_argument("--requests", type=int, default=1, help="requests per connection")
    ap.add_argument("--pad", type=int, default=0, help="bytes of padding header per request")
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument(
        "--tos", type=lambda x: int(x, 0), default=0, help="IPv4 TOS / IPv6 traffic class"
    )
    args = ap.parse_args()
    result = {}
    for target in args.targets:
        host, port = parse_target(target)
        flows, failed = [], []
        t0 = time.monotonic()
        for _ in range(args.count):
            try:
                flows.append(one_flow(host, port, args.requests, args.pad, args.timeout, args.tos))
            except (OSError, RuntimeError) as e:
                failed.append(f"{type(e).__name__}: {e}")
        result[target] = {"flows": flows, "failed": failed, "seconds": time.monotonic() - t0}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
