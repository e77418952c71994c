"""The install tree and the Debian package, checked on the host without installing anything:
`cmake --install` into a staging directory, `systemd-analyze verify` on the units there,
`--version` of each staged binary, and `cpack -G DEB` read back with `dpkg-deb` (contents,
Depends, conffiles, maintainer scripts). Skips with a reason where a tool is missing."""
import os
import re
import shutil
import subprocess

import pytest

from testlib import paths
from testlib.command import run

SBIN = ["dogfish", "dogfish-decap", "dogfish-lab"]
BIN = ["dogfish-responder"]
SHARE = [
    "balancer.bpf.o",
    "decap.bpf.o",
    "tc_decap.bpf.o",
    "topologies/basic.yaml",
    "topologies/multi-real.yaml",
]
UNITS = ["dogfish.service", "dogfish-decap@.service"]
CONFIG = "etc/dogfish/dogfish.yaml"


def expected_files():
    return (
        [f"usr/sbin/{b}" for b in SBIN]
        + [f"usr/bin/{b}" for b in BIN]
        + [f"usr/share/dogfish/{f}" for f in SHARE]
        + [f"usr/lib/systemd/system/{u}" for u in UNITS]
        + [CONFIG, "usr/share/doc/dogfish/README.md"]
    )


def project_version():
    text = (paths.SOURCE / "CMakeLists.txt").read_text()
    return re.search(r"project\(dogfish VERSION (\S+)", text).group(1)


def require(tool):
    if not shutil.which(tool):
        pytest.skip(f"{tool} is not installed")


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """The build tree installed with prefix /usr under a staging directory (DESTDIR)."""
    root = tmp_path_factory.mktemp("stage")
    env = dict(os.environ, DESTDIR=str(root))
    run(["cmake", "--install", paths.build_dir(), "--prefix", "/usr"], env=env)
    return root


def test_install_lays_out_every_binary_object_topology_unit_and_the_config(staged):
    missing = [f for f in expected_files() if not (staged / f).is_file()]
    assert missing == []
    for b in SBIN:
        assert os.access(staged / "usr/sbin" / b, os.X_OK), b


def test_every_binary_answers_version(staged):
    version = project_version()
    for path in [staged / "usr/sbin" / b for b in SBIN] + [staged / "usr/bin" / b for b in BIN]:
        out = run([path, "--version"]).stdout.strip()
        assert re.fullmatch(rf"{path.name} {re.escape(version)}( \(git \S+\))?", out), out


def test_units_verify(staged, tmp_path):
    require("systemd-analyze")
    # verify resolves ExecStart's binaries and the units' dependencies under --root: the staged
    # tree, with the host's own units (sysinit.target, ...) and kill beside ours.
    root = tmp_path / "root"
    shutil.copytree(staged, root, symlinks=True)
    shutil.copytree(
        "/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True, dirs_exist_ok=True
    )
    (root / "bin").symlink_to("usr/bin")
    shutil.copy2("/bin/kill", root / "usr/bin/kill")
    units = [root / "usr/lib/systemd/system" / u for u in UNITS]
    r = run(
        ["systemd-analyze", "verify", f"--root={root}", *units, "dogfish-decap@eth0.service"],
        check=False,
        env=dict(os.environ, SYSTEMD_LOG_LEVEL="notice"),
    )
    # A unit's mistakes (an unknown key, a missing binary) are warnings on stderr, exit 0.
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr


def test_the_service_is_type_notify_reloads_by_sighup_and_restarts_on_failure(staged):
    unit = (staged / "usr/lib/systemd/system/dogfish.service").read_text()
    for line in [
        "Type=notify",
        "ExecStart=/usr/sbin/dogfish run --config /etc/dogfish/dogfish.yaml",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
    ]:
        assert line in unit.splitlines(), line


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    require("dpkg-deb")
    require("dpkg-shlibdeps")
    out = tmp_path_factory.mktemp("deb")
    config = paths.build_dir() / "CPackConfig.cmake"
    run(["cpack", "-G", "DEB", "--config", config, "-B", out], timeout=300)
    debs = list(out.glob("*.deb"))
    assert len(debs) == 1, debs
    return debs[0]


def field(deb, name):
    return run(["dpkg-deb", "--field", deb, name]).stdout.strip()


def test_deb_is_named_by_version_and_arch(deb):
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    assert deb.name == f"dogfish_{project_version()}_{arch}.deb"


def test_deb_holds_the_install_tree(deb):
    listing = run(["dpkg-deb", "--contents", deb]).stdout
    files = {line.split()[-1].lstrip(".").lstrip("/") for line in listing.splitlines()}
    assert set(expected_files()) <= files, set(expected_files()) - files


def test_deb_depends_on_the_libraries_the_binaries_link(deb):
    depends = field(deb, "Depends")
    names = {d.strip().split()[0] for d in depends.split(",")}
    for lib in [
        "libbpf1",
        "libyaml-cpp0.7",
        "libfmt9",
        "libmnl0",
        "libprometheus-cpp-core1.0",
        "libc6",
        "iproute2",
    ]:
        assert lib in names, depends


def test_deb_keeps_the_config_as_a_conffile_and_restarts_on_upgrade(deb, tmp_path):
    run(["dpkg-deb", "--control", deb, tmp_path])
    assert (tmp_path / "conffiles").read_text().split() == ["/" + CONFIG]
    assert "try-restart dogfish.service" in (tmp_path / "postinst").read_text()
    for script in ["postinst", "prerm", "postrm"]:
        assert os.access(tmp_path / script, os.X_OK), script
        subprocess.run(["sh", "-n", tmp_path / script], check=True)
