"""The README's commands, run as a reader runs them: top to bottom, in one shell, as root, in the
checkout, in a lab of the test's own.

Which blocks run is marked in the README by a comment on the line before the block:
  <!-- docs-test: quickstart -->            the two quick-start commands; `scripts/lab up` runs
                                           (`scripts/test` is what runs this test, so it is only
                                           checked to be there, as the contract says)
  <!-- docs-test: output of scripts/lab up --> what `scripts/lab up` prints
  <!-- docs-test: console -->               `$ COMMAND` lines, each followed by its output
Every command must exit 0. Where the README shows output, the output must have its shape: line
for line, with every run of digits alike (so addresses, counts, timings and real1/real2 may
differ), runs of blanks alike, and `...` standing for any lines. Where it shows none, the command
must print nothing.

The lab is the test's own: the README's /run/dogfish-lab and df- names are read as this test's
DOGFISH_LAB_DIR and DOGFISH_LAB_PREFIX, and $PWD/build as the build tree under test.
"""
import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from testlib.lab import Lab, own_place
from testlib.leftovers import Leftovers
from testlib.paths import SOURCE, build_dir

README = SOURCE / "README.md"
BUILD = str(build_dir())
PREFIX, RECORD, LAB_ENV = own_place("dt")
ENV = dict(LAB_ENV, BUILD_DIR=BUILD)
HOST = Leftovers(PREFIX, RECORD)
CLEAN = {"namespaces": [], "pins": [], "record": False}
MARK = re.compile(r"^<!-- docs-test: (.+?) -->$")


def readme_blocks():
    """(kind, first line number, lines) of every fenced block after a docs-test mark."""
    lines = README.read_text().splitlines()
    out = []
    for i, line in enumerate(lines):
        m = MARK.match(line)
        if not m:
            continue
        assert lines[i + 1].startswith(
            "```"
        ), f"README.md:{i + 2}: a docs-test mark must precede a ``` block"
        end = next(j for j in range(i + 2, len(lines)) if lines[j].startswith("```"))
        out.append((m.group(1), i + 3, lines[i + 2 : end]))
    return out


def console_steps(lines):
    """[(command, expected output lines)] of a console block."""
    steps = []
    for line in lines:
        if line.startswith("$ "):
            steps.append([line[2:], []])
        else:
            assert steps, f"console block starts with output: {line!r}"
            steps[-1][1].append(line)
    return steps


def ours(text):
    """The README's lab paths and names, as this test's lab has them."""
    text = text.replace("/run/dogfish-lab", RECORD).replace("$PWD/build", BUILD)
    return re.sub(r"\bdf-", PREFIX, text)


def shape(line):
    return " ".join(re.sub(r"\d+", "0", line).split())


def has_shape(expected, actual):
    pattern = "".join(
        r"(?:.*\n)*?" if e.strip() == "..." else re.escape(shape(e)) + r"\n" for e in expected
    )
    return re.fullmatch(pattern, "".join(shape(a) + "\n" for a in actual.splitlines())) is not None


BLOCKS = readme_blocks()
QUICKSTART = next(lines for kind, _, lines in BLOCKS if kind == "quickstart")
LAB_UP_OUTPUT = next(lines for kind, _, lines in BLOCKS if kind == "output of scripts/lab up")
CONSOLES = [(line, console_steps(lines)) for kind, line, lines in BLOCKS if kind == "console"]
# Every command in README order; a console block's commands start at FIRST[its line].
COMMANDS = ["scripts/lab up"]
FIRST = {}
for _line, _steps in CONSOLES:
    FIRST[_line] = len(COMMANDS)
    COMMANDS += [ours(cmd) for cmd, _ in _steps]


@pytest.fixture(scope="module")
def session():
    """Runs every command in one bash, in README order, stopping at the first that fails; gives
    [(exit status, output)] by command number, None for a command not run."""
    assert HOST.snapshot(tuple(CLEAN)) == CLEAN
    with tempfile.TemporaryDirectory(prefix="docs-test-") as tmp:
        script = [f"cd {SOURCE}"]
        for i, cmd in enumerate(COMMANDS):
            # A brace group runs in this shell, so `export` and variables carry on, as for a reader.
            script.append(
                f"{{ {cmd}\n}} >{tmp}/out.{i} 2>&1 </dev/null; echo $? >{tmp}/rc.{i}; "
                f'[ "$(cat {tmp}/rc.{i})" = 0 ] || exit 0'
            )
        try:
            subprocess.run(["bash", "-c", "\n".join(script)], env=ENV, timeout=900)
            results = []
            for i in range(len(COMMANDS)):
                rc = Path(tmp, f"rc.{i}")
                results.append(
                    (int(rc.read_text()), Path(tmp, f"out.{i}").read_text())
                    if rc.exists()
                    else None
                )
            yield results
        finally:
            Lab(env=ENV).down(check=False)
    assert HOST.snapshot(tuple(CLEAN)) == CLEAN


def result(session, i):
    if session[i] is None:
        pytest.fail(f"not run: an earlier command of the README failed ({COMMANDS[i]})")
    return session[i]


def test_quickstart_is_the_two_commands():
    commands = [line.split("#")[0].strip() for line in QUICKSTART if line.strip()]
    assert commands == ["scripts/lab up", "scripts/test"]
    assert os.access(SOURCE / "scripts/lab", os.X_OK) and os.access(
        SOURCE / "scripts/test", os.X_OK
    )


def test_quickstart_brings_the_lab_up(session):
    rc, out = result(session, 0)
    assert rc == 0, out
    expected = ours("\n".join(LAB_UP_OUTPUT)).splitlines()
    assert has_shape(expected, out), (
        "README shows:\n" + "\n".join(expected) + f"\n\nscripts/lab up printed:\n{out}"
    )


@pytest.mark.parametrize("line,steps", CONSOLES, ids=[f"README.md:{line}" for line, _ in CONSOLES])
def test_console_block(session, line, steps):
    for n, (cmd, expected) in enumerate(steps):
        rc, out = result(session, FIRST[line] + n)
        assert rc == 0, f"$ {cmd}\nexited {rc}:\n{out}"
        if not expected:
            assert out == "", f"$ {cmd}\nprinted output the README does not show:\n{out}"
            continue
        expected = ours("\n".join(expected)).splitlines()
        assert has_shape(expected, out), (
            f"$ {cmd}\nREADME shows:\n" + "\n".join(expected) + f"\n\nit printed:\n{out}"
        )


def test_shape_matching_can_fail():
    """The matcher itself: numbers may differ, words and lines may not."""
    assert has_shape(["lab 'basic' is up (1.3 s)"], "lab 'basic' is up (12.07 s)\n")
    assert has_shape(["...", "real1"], "building\nreal2\n")
    assert not has_shape(["lab 'basic' is up"], "lab 'basic' is down\n")
    assert not has_shape(["a", "b"], "a\nx\nb\n")
    assert not has_shape(["a"], "a\nmore\n")
