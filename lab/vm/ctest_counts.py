"""Reads CTest's JUnit XML (ctest --output-junit) and prints, per CTest test, its result, its
time and the cases inside it (gtest's and pytest's own summaries, from the captured output),
then one total line per file. Usage: ctest_counts.py LABEL FILE.xml"""
import re
import sys
import xml.etree.ElementTree as ET

GTEST = {
    k: re.compile(rf"^{re.escape(tag)} (\d+) tests?[.,]", re.M)
    for k, tag in (
        ("passed", "[  PASSED  ]"),
        ("skipped", "[  SKIPPED ]"),
        ("failed", "[  FAILED  ]"),
    )
}
PYTEST_LINE = re.compile(
    r"^=*\s*(\d+ (?:passed|failed|skipped|error|errors|deselected).*) in [\d.]+s", re.M
)


def inner_counts(out):
    """{"passed": n, "failed": n, "skipped": n} from a gtest or pytest summary, or {}."""
    if "[==========]" in out:
        return {k: sum(int(n) for n in r.findall(out)) for k, r in GTEST.items()}
    lines = PYTEST_LINE.findall(out)
    if not lines:
        return {}
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for n, what in re.findall(r"(\d+) (passed|failed|skipped|errors?)", lines[-1]):
        counts["failed" if what.startswith("error") else what] += int(n)
    return counts


def main():
    label, path = sys.argv[1], sys.argv[2]
    cases = ET.parse(path).getroot().iter("testcase")
    total = {"passed": 0, "failed": 0, "skipped": 0}
    inner_total = {"passed": 0, "failed": 0, "skipped": 0}
    for c in cases:
        failed = c.find("failure") is not None or c.get("status") == "fail"
        skipped = c.find("skipped") is not None or c.get("status") in ("notrun", "disabled")
        result = "failed" if failed else "skipped" if skipped else "passed"
        total[result] += 1
        inner = inner_counts(c.findtext("system-out") or "")
        for k, v in inner.items():
            inner_total[k] += v
        detail = ", ".join(f"{v} {k}" for k, v in inner.items() if v) or "-"
        print(
            f"    {c.get('name'):<22} {result:<8} {float(c.get('time', 0)):7.1f} s   cases: {detail}"
        )
    print(
        f"    {label}: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped "
        f"(CTest tests); cases inside them: {inner_total['passed']} passed, {inner_total['failed']} failed, "
        f"{inner_total['skipped']} skipped"
    )


if __name__ == "__main__":
    main()
