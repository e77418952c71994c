"""pytest loads this for every test tree of the repository (pyproject.toml makes this folder
the rootdir): the shared helpers are imported from here as `testlib`."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
