"""Helpers every Python test tree shares; the repository's conftest.py puts this package on
sys.path for each of them. Each tree keeps only what is its own.

  paths      the source and build trees, the binaries under test, Debian's python3
  command    running a command: a timeout, its output captured, a failure that shows both
  netns      network namespaces a test makes (removed even on failure) and running in one
  lab        dogfish-lab's CLI, and the lab as `dogfish-lab status --json` describes it
  leftovers  what a lab or a test could leave on the shared host, looked at before and after
"""
