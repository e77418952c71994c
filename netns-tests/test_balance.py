"""Check 3: balance. On multi-real.yaml (eight reals weighted 1, 1, 2, 2, 3, 3, 4, 4),
FLOWS new TCP connections to each VIP: every real's share of the flows is within 15%
(relative) of its weight's share.

The ring itself is exact (each real within a slot of its share); what a real gets of the
flows is the ring sampled by the flows' hashes. Why 20,000 flows a VIP and not the 2,000
the issue asks at least: a real of weight 1 (5% of the ring) gets 100 +- 10 of 2,000 flows
and would miss a 15% bound by chance one run in eight; of 20,000 it gets 1,000 +- 31, and
15% is 4.9 standard deviations. The bound then measures the ring and the hash, not luck."""
import pytest

from e2e.lab import progress, vip_spec
from e2e.traffic import shares

FLOWS = 20000
TOLERANCE = 0.15


@pytest.mark.parametrize("version", [4, 6])
def test_each_real_gets_its_weights_share(multi_lab, version):
    lab = multi_lab
    vip = lab.vip(version, "tcp")
    target = vip_spec(vip["address"], vip["port"])
    weights = {r["node"]: r["weight"] for r in vip["reals"]}
    total = sum(weights.values())

    out = lab.client_script("tcp_flows.py", "--count", FLOWS, target, timeout=600)[target]
    assert (
        out["failed"] == []
    ), f"{len(out['failed'])} of {FLOWS} connections failed: {out['failed'][:5]}"
    got = shares(out["flows"])
    assert set(got) <= set(weights), f"answered by reals outside the VIP: {got}"

    lines, worst = [], 0.0
    for real, w in sorted(weights.items()):
        expected = w / total
        measured = got.get(real, 0) / FLOWS
        error = measured / expected - 1
        worst = max(worst, abs(error))
        lines.append(
            f"{real} (w{w}) {got.get(real, 0)} = {measured:.4f} vs {expected:.4f} ({error:+.1%})"
        )
    progress(
        f"IPv{version}: {FLOWS} flows in {out['seconds']:.1f} s; worst {worst:.1%}\n  "
        + "\n  ".join(lines)
    )
    assert (
        worst <= TOLERANCE
    ), f"a real's share is off its weight's by more than {TOLERANCE:.0%}:\n" + "\n".join(lines)
