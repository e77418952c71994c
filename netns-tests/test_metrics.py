"""Metrics: the balancer's GET /metrics (metrics_listen, which the lab sets to 127.0.0.1:9773 in
the balancer's namespace) scraped by a real Prometheus server (Debian's), run in that namespace
on a local address with its own storage, every second. The body passes `promtool check metrics`;
the numbers Prometheus holds agree with `dogfish stats --json`: the traffic's counters equal,
once the traffic stopped; every other counter between what stats said before and after."""
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from e2e.lab import progress, vip_spec
from testlib.command import run, wait_for

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
PROMETHEUS_LISTEN = "127.0.0.1:9774"  # beside the balancer's 9773, in its namespace
FLOWS = 40
SAMPLE = re.compile(r"^(\w+)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

pytestmark = pytest.mark.skipif(
    not (PROMETHEUS and PROMTOOL), reason="needs Debian's prometheus (scripts/install-deps.sh)"
)


def samples(text):
    """{(name, ((label, value), ...)): value} of an exposition's samples."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = tuple(sorted(LABEL.findall(m[2] or "")))
        out[(m[1], labels)] = float(m[3])
    return out


def by_stats(stats):
    """What /metrics must say of a `stats --json` answer: {(name, labels): value}."""
    out = {}
    for v in stats["vips"]:
        for unit in ("packets", "bytes"):
            out[(f"dogfish_vip_{unit}_total", (("vip", v["vip"]),))] = v[unit]
    for r in stats["reals"]:
        for unit in ("packets", "bytes"):
            out[(f"dogfish_real_{unit}_total", (("real", r["real"]),))] = r[unit]
    for p in stats["vip_reals"]:
        for unit in ("packets", "bytes"):
            out[(f"dogfish_vip_real_{unit}_total", (("real", p["real"]), ("vip", p["vip"])))] = p[
                unit
            ]
    for reason, n in stats["reasons"].items():
        out[("dogfish_packets_total", (("reason", reason),))] = n
    ct = stats["conn_table"]
    for key, name in (("hit", "hits"), ("miss", "misses"), ("inserted", "inserts")):
        out[(f"dogfish_conn_table_{name}_total", ())] = ct[key]
    out[("dogfish_config_applies_total", ())] = stats["control"]["applies"]
    return out


def traffic_keys(stats):
    """The samples only the test's traffic moves: the VIPs', the reals' and the pairs' (probes
    via the VIP leave the balancer's stack at tc egress, past the XDP counters)."""
    return {k for k in by_stats(stats) if k[0].startswith(("dogfish_vip_", "dogfish_real_"))}


class Prometheus:
    """Debian's prometheus in the balancer's namespace, scraping its /metrics every second into
    a temporary directory; stopped and its directory removed by close(), whatever happened."""

    def __init__(self, lab, target):
        self.lab, self.node = lab, lab.balancer
        self.dir = Path(tempfile.mkdtemp(prefix="dogfish-prometheus-"))
        config = self.dir / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: dogfish\n    static_configs: [{{targets: ['{target}']}}]\n"
        )
        self.log = open(self.dir / "prometheus.log", "w")
        try:
            self.proc = lab.popen(
                self.node,
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address={PROMETHEUS_LISTEN}",
                stdout=self.log,
                stderr=self.log,
            )
        except BaseException:
            self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        if lab.watch:
            lab.watch.note_pid(self.proc.pid)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self):
        return (self.dir / "prometheus.log").read_text()[-2000:]

    def api(self, path, **params):
        """GET of Prometheus's HTTP API from inside the namespace; its `data`, or None while it
        does not answer yet."""
        args = [a for k, v in params.items() for a in ("--data-urlencode", f"{k}={v}")]
        url = f"http://{PROMETHEUS_LISTEN}/api/v1/{path}"
        # -f: a Prometheus still starting answers 503 "Service Unavailable", not JSON.
        proc = self.lab.exec(self.node, "curl", "-fsS", "-m", "2", "-G", url, *args, check=False)
        if proc.returncode != 0:
            assert self.proc.poll() is None, f"prometheus exited:\n{self.log_tail()}"
            return None
        answer = json.loads(proc.stdout)
        assert answer["status"] == "success", answer
        return answer["data"]

    def query(self, expr):
        """{(name, labels): value} of an instant query's vector (job and instance left out)."""
        data = self.api("query", query=expr)
        out = {}
        for s in (data or {}).get("result", []):
            metric = dict(s["metric"])
            name = metric.pop("__name__", expr)
            labels = tuple(
                sorted((k, v) for k, v in metric.items() if k not in ("job", "instance"))
            )
            out[(name, labels)] = float(s["value"][1])
        return out

    def target_health(self):
        data = self.api("targets")
        targets = (data or {}).get("activeTargets", [])
        return targets[0] if targets else None


def test_prometheus_scrapes_what_stats_says(basic_lab):
    lab = basic_lab
    target = lab.status["balancer"]["metrics"]
    assert target == "127.0.0.1:9773"
    tcp4, udp6 = lab.vip(4, "tcp"), lab.vip(6, "udp")
    tcp_target = vip_spec(tcp4["address"], tcp4["port"])
    udp_target = vip_spec(udp6["address"], udp6["port"])
    out = lab.client_script("tcp_flows.py", "--count", FLOWS, tcp_target)[tcp_target]
    assert out["failed"] == []
    out = lab.client_script("udp_flows.py", "--count", FLOWS, "--datagrams", 2, udp_target)
    assert out[udp_target]["lost"] == 0
    before = lab.stats()
    assert sum(v["packets"] for v in before["vips"]) > 0

    # The body itself: well-formed, and saying what stats says.
    body = lab.exec(lab.balancer, "curl", "-sS", "-m", "5", f"http://{target}/metrics").stdout
    check = run([PROMTOOL, "check", "metrics"], input=body, check=False)
    assert check.returncode == 0, f"promtool check metrics:\n{check.stdout}{check.stderr}"
    after = lab.stats()
    scraped = samples(body)
    want_before, want_after = by_stats(before), by_stats(after)
    for key in want_after:
        assert key in scraped, f"{key} missing from /metrics:\n{body}"
        assert want_before.get(key, 0) <= scraped[key] <= want_after[key], key
    for key in traffic_keys(after):
        assert scraped[key] == want_after[key] == want_before[key], key
    # Each VIP's traffic is its reals' (no probe passes XDP), pair by pair.
    for v in after["vips"]:
        pairs = [p for p in after["vip_reals"] if p["vip"] == v["vip"]]
        assert sum(p["packets"] for p in pairs) == v["packets"], (v, pairs)
    assert any(p["packets"] for p in after["vip_reals"]), after["vip_reals"]
    up = [k for k in scraped if k[0] == "dogfish_real_up"]
    assert len(up) == sum(len(v["reals"]) for v in lab.status["vips"]), up

    # Prometheus's view.
    prom = Prometheus(lab, target)
    try:
        t0 = time.monotonic()
        health = wait_for(
            lambda: (t := prom.target_health()) and t["health"] == "up" and t,
            "Prometheus to scrape the balancer",
            timeout=20,
            interval=0.2,
        )
        held = wait_for(
            lambda: prom.query('{__name__=~"dogfish_.+"}'),
            "a dogfish counter in Prometheus",
            timeout=10,
            interval=0.2,
        )
        progress(
            f"Prometheus scraped in {time.monotonic() - t0:.1f} s from its start; last scrape "
            f"took {health['lastScrapeDuration'] * 1000:.1f} ms, {len(held)} series"
        )
        final = lab.stats()
        want_final = by_stats(final)
        for key, value in want_final.items():
            assert key in held, f"{key} not in Prometheus: {sorted(held)[:10]}..."
            assert want_before.get(key, 0) <= held[key] <= value, (key, held[key], value)
        for key in traffic_keys(final):
            assert held[key] == want_before[key], (key, held[key], want_before[key])
    except BaseException:
        progress(f"prometheus log:\n{prom.log_tail()}")
        raise
    finally:
        prom.close()
