"""Running commands from the tests: each with a timeout and its output captured; a command
that fails or runs out of time raises an AssertionError that shows the command and its output."""
import subprocess
import time


class CommandFailed(AssertionError):
    """A command exited non-zero or did not finish in time."""


def _text(output):
    # TimeoutExpired carries bytes even from a text-mode run.
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def run(argv, *, check=True, timeout=120, input=None, env=None):
    """Runs argv (any items, made strings); returns the CompletedProcess (text). With check, a
    non-zero exit raises CommandFailed; a timeout always does."""
    argv = [str(a) for a in argv]
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, input=input, env=env
        )
    except subprocess.TimeoutExpired as e:
        raise CommandFailed(
            f"{' '.join(argv)} did not finish in {timeout} s:\n{_text(e.stdout)}\n{_text(e.stderr)}"
        ) from None
    if check and proc.returncode != 0:
        raise CommandFailed(
            f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def wait_for(predicate, what, timeout=10.0, interval=0.02):
    """Polls until predicate() is true; returns what it gave then. Fails naming what was
    awaited."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
    return value
