#!/usr/bin/python3
"""The README's CLI reference, made from the real --help of every command and subcommand.

  docs/cli_reference.py --build build --write README.md   rewrites the section
  docs/cli_reference.py --build build --check README.md   exit 1 (and a diff) when it is stale

The section sits between the BEGIN and END markers below; everything else in the file is left as
it is. CTest's readme_cli_reference runs --check, so the reference cannot drift from the binaries.
"""
import argparse
import difflib
import subprocess
import sys
from pathlib import Path

BEGIN = "<!-- BEGIN cli-reference: made by docs/cli_reference.py from each --help; do not edit -->"
END = "<!-- END cli-reference -->"

# The commands a user types, by the binary the build makes, with what each is for.
TOOLS = [
    (
        "dogfish",
        "balancer/dogfish",
        "the balancer: the daemon (`run`) and the commands that talk to it",
    ),
    (
        "dogfish-lab",
        "lab/dogfish-lab",
        "the lab: namespaces, veths, decap, responders and a balancer on one host",
    ),
    ("dogfish-decap", "decap/dogfish-decap", "on each real: strip the encapsulation (XDP or tc)"),
]


def help_text(binary, name, path):
    # argv[0] is the bare name, so the usage lines read as a user types them.
    p = subprocess.run([name, *path, "--help"], executable=binary, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(
            f"cli_reference: {name} {' '.join(path)} --help exited {p.returncode}: {p.stderr}"
        )
    return p.stdout.rstrip()


def subcommands(text):
    """The names under CLI11's "Subcommands:" heading."""
    names, inside = [], False
    for line in text.splitlines():
        if line.startswith("Subcommands:"):
            inside = True
        elif inside and line.startswith("  ") and line.strip():
            names.append(line.split()[0])
        elif inside and line.strip() and not line.startswith(" "):
            inside = False
    return names


def walk(binary, name, path=()):
    """(path, help) for the command and, depth first, every subcommand."""
    text = help_text(binary, name, list(path))
    yield path, text
    for sub in subcommands(text):
        yield from walk(binary, name, (*path, sub))


def section(build):
    out = [BEGIN, ""]
    for name, rel, what in TOOLS:
        binary = build / rel
        if not binary.exists():
            raise SystemExit(f"cli_reference: {binary} is not built (cmake --build {build})")
        out += [f"### `{name}`: {what}", ""]
        for path, text in walk(str(binary), name):
            if path:
                out += [f"<details><summary><code>{name} {' '.join(path)}</code></summary>", ""]
            out += ["```text", text, "```", ""]
            if path:
                out += ["</details>", ""]
    out.append(END)
    return "\n".join(out)


def replaced(readme_text, new_section):
    start, end = readme_text.find(BEGIN), readme_text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"cli_reference: the README has no '{BEGIN}' ... '{END}' section")
    return readme_text[:start] + new_section + readme_text[end + len(END) :]


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--build", type=Path, default=Path("build"), help="build tree (default build/)")
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", type=Path, metavar="README", help="rewrite the section in README")
    mode.add_argument(
        "--check", type=Path, metavar="README", help="exit 1 when the section in README is stale"
    )
    a = ap.parse_args()
    readme = a.write or a.check
    old = readme.read_text()
    new = replaced(old, section(a.build))
    if a.write:
        if new != old:
            readme.write_text(new)
        return 0
    if new != old:
        sys.stdout.writelines(
            difflib.unified_diff(
                old.splitlines(True),
                new.splitlines(True),
                f"{readme} (as it is)",
                f"{readme} (from --help)",
            )
        )
        print(
            f"\n{readme}: the CLI reference is stale: docs/cli_reference.py --build {a.build} --write {readme}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
