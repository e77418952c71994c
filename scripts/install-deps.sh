#!/usr/bin/env bash
# Installs every Debian package that dogfish's build, tests, benchmarks and lab need.
# Idempotent: when everything is already installed it prints nothing and touches nothing.
set -euo pipefail

PACKAGES=(
	# build
	cmake make g++ pkg-config clang llvm bpftool
	libbpf-dev libelf-dev zlib1g-dev linux-libc-dev
	libmnl-dev libnl-3-dev libnl-route-3-dev
	libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libfmt-dev prometheus-cpp-dev
	# tests and benchmarks; libFuzzer and the sanitizers' runtimes for scripts/sanitize
	googletest libgtest-dev libgmock-dev libbenchmark-dev libclang-rt-14-dev
	python3 python3-pytest python3-scapy
	# formatting and lint (scripts/lint)
	clang-format black flake8
	# lab and its tools
	iproute2 ethtool tcpdump curl iperf3 xdp-tools util-linux procps
	# scale-out labs: BIRD routes the VIPs by BGP (the lab runs its own, never the system's);
	# nftables silences a balancer's link in the failover test
	bird2 nftables
	# lab-bench: the user-space TCP proxy it compares with
	haproxy
	# e2e_metrics: a real Prometheus server (run by the test on its own address; where systemd
	# runs the package's own service, that one listens on :9090) scrapes /metrics; promtool checks it
	prometheus
)

if [[ $(id -u) -ne 0 ]]; then
	echo "install-deps: must run as root (apt-get install)" >&2
	exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing+=("$p")
	fi
done
((${#missing[@]} == 0)) && exit 0

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
