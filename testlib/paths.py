"""Where things are: the source tree, the build tree under test, and its binaries."""
import os
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1]
TOPOLOGIES = SOURCE / "topologies"
# Debian's, with pytest and scapy (another python3 may come first on PATH).
PYTHON = "/usr/bin/python3"


def build_dir():
    """The build tree under test: $BUILD_DIR (CTest sets it), else build/ in the source tree."""
    return Path(os.environ.get("BUILD_DIR") or SOURCE / "build").resolve()


def binary(variable, built):
    """A binary under test: $variable when set (CTest sets it), else `built` in the build tree."""
    return os.environ.get(variable) or str(build_dir() / built)
