"""Check: scale-out without BFD (issue 18). The ecmp topology with `bgp.bfd: false`: a
balancer that dies without a word is noticed by the gateway only when its BGP hold timer runs
out. No connection breaks meanwhile (the clients wait longer than the hold time); the time to
withdraw is measured beside test_ecmp.py's, with BFD."""
import pytest

from e2e.ecmp import a_balancer_dies, services
from e2e.lab import progress


@pytest.fixture(scope="module")
def vips(ecmp_hold_lab):
    return services(ecmp_hold_lab)


def test_a_balancer_that_dies_breaks_no_connection_without_bfd(ecmp_hold_lab, vips, tmp_path):
    dead, withdrawn, figures = a_balancer_dies(ecmp_hold_lab, vips, tmp_path)
    progress(
        f"{dead} went dark: withdrawn by the gateway after {withdrawn:.2f} s (hold timer); {figures}"
    )
