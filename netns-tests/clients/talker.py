"""Long-lived TCP connections that keep talking: COUNT keep-alive HTTP connections per
target, each asking GET / every INTERVAL seconds and noting which real answered, plus
(with --churn) a stream of new short connections beside them. Runs until told to stop.

Controlled over stdin, one command a line; each answer is one JSON line on stdout:
  (at start, once every connection has its first answer)  {"ready": true, ...report}
  report   ->  {"conns": [{"target", "port", "real", "exchanges", "state", "moved",
                           "longest_wait"}, ...],
                "churn": {target: {"ok": n, "failed": [...], "reals": {real: n}}}}
  stop     ->  the last report; every connection closed
A connection's state is "open" until it breaks: "reset" (RST: ECONNRESET or EPIPE),
"timeout" (no answer within --timeout), "closed" (FIN from the server) or "error: ..."; a
broken connection is not reopened. "moved" counts answers from another real than its first;
"longest_wait" is the longest time one request waited for its answer (seconds): the stall a
connection saw while its path changed."""
import argparse
import json
import sys
import threading
import time

from http_client import Http, parse_target


class Conn:
    def __init__(self, target, timeout):
        host, port = parse_target(target)
        self.target = target
        self.http = Http(host, port, timeout)
        self.real = self.http.get(keep_alive=True)
        self.exchanges, self.moved, self.state = 1, 0, "open"
        self.longest_wait = 0.0

    def talk(self, interval, stop):
        while not stop.is_set():
            asked = time.monotonic()
            try:
                real = self.http.get(keep_alive=True)
            except (ConnectionResetError, BrokenPipeError):
                self.state = "reset"
            except TimeoutError:
                self.state = "timeout"
            except ConnectionAbortedError:
                self.state = "closed"
            except (OSError, RuntimeError) as e:
                self.state = f"error: {e}"
            else:
                self.longest_wait = max(self.longest_wait, time.monotonic() - asked)
                self.exchanges += 1
                self.moved += real != self.real
                stop.wait(interval)  # pacing, not synchronisation
                continue
            return

    def report(self):
        return {
            "target": self.target,
            "port": self.http.local_port,
            "real": self.real,
            "exchanges": self.exchanges,
            "state": self.state,
            "moved": self.moved,
            "longest_wait": round(self.longest_wait, 3),
        }


class Churn:
    """New HTTP/1.0 connections to one target, one after another, until stopped."""

    def __init__(self, target, timeout):
        self.target, self.timeout = target, timeout
        self.ok, self.failed, self.reals = 0, [], {}

    def run(self, stop):
        host, port = parse_target(self.target)
        while not stop.is_set():
            try:
                with Http(host, port, self.timeout) as c:
                    real = c.get()
                    c.wait_closed()
                self.ok += 1
                self.reals[real] = self.reals.get(real, 0) + 1
            except (OSError, RuntimeError) as e:
                self.failed.append(f"{type(e).__name__}: {e}")
            stop.wait(0.005)

    def report(self):
        return {"ok": self.ok, "failed": self.failed, "reals": self.reals}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("targets", nargs="+", help="HOST:PORT=COUNT, IPv6 as [ADDR]:PORT=COUNT")
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--churn", action="store_true", help="also open new connections to each target")
    args = ap.parse_args()
    stop = threading.Event()
    conns, churns = [], []
    for spec in args.targets:
        target, _, count = spec.rpartition("=")
        conns += [Conn(target, args.timeout) for _ in range(int(count))]
        if args.churn:
            churns.append(Churn(target, args.timeout))
    threads = [threading.Thread(target=c.talk, args=(args.interval, stop)) for c in conns]
    threads += [threading.Thread(target=c.run, args=(stop,)) for c in churns]
    for t in threads:
        t.start()

    def report(**extra):
        print(
            json.dumps(
                {
                    **extra,
                    "conns": [c.report() for c in conns],
                    "churn": {c.target: c.report() for c in churns},
                }
            ),
            flush=True,
        )

    report(ready=True)
    for line in sys.stdin:
        if line.strip() == "report":
            report()
        elif line.strip() == "stop":
            break
    stop.set()
    for t in threads:
        t.join()
    report(stopped=True)
    for c in conns:
        c.http.close()


if __name__ == "__main__":
    main()
