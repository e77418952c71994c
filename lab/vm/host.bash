# The host's side of the offline VM test (sourced by lab/vm/run): libvirt's daemons,
# started here because this kind of machine has no systemd, and stopped by PID; the
# removal of what libvirt leaves behind; and a snapshot of everything a run could leave,
# compared before and after.
# shellcheck shell=bash

HOST_PACKAGES=(qemu-system-x86 qemu-utils debootstrap fdisk grub-pc-bin vagrant vagrant-libvirt
	libvirt-daemon-system libvirt-clients dnsmasq-base iptables nftables rsync openssh-client)

# Where libvirt keeps configuration, state, logs and caches: new entries in them after
# a run are what the run's libvirtd wrote.
LIBVIRT_PATHS=(/etc/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt /run/libvirt)

virsh_() { virsh -q -c qemu:///system "$@"; }

install_host_packages() {
	local p missing=()
	for p in "${HOST_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	# The packages' scripts may try to start libvirt's services; there is no init to do it.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

libvirt_answers() { timeout 10 virsh -q -c qemu:///system uri >/dev/null 2>&1; }

# Starts virtlogd and libvirtd unless a libvirtd already answers (then it is left alone,
# and so is everything it owns). Sets STARTED_LIBVIRT=1 when they are ours.
# shellcheck disable=SC2034 # read by lab/vm/run's teardown
start_libvirt() {
	STARTED_LIBVIRT=0
	if libvirt_answers; then
		log "using the libvirtd that is already running"
		return 0
	fi
	STARTED_LIBVIRT=1
	virtlogd -d -p "$WORK/virtlogd.pid"
	libvirtd -d -p "$WORK/libvirtd.pid"
	local deadline=$((SECONDS + 30))
	until libvirt_answers; do
		((SECONDS < deadline)) || die "libvirtd does not answer after 30 s"
		sleep 0.2
	done
	log "started virtlogd (pid $(cat "$WORK/virtlogd.pid")) and libvirtd (pid $(cat "$WORK/libvirtd.pid"))"
}

# Stops a daemon by the PID in its pid file: TERM, then KILL after 10 s.
stop_pidfile() {
	local file=$1 pid i
	[[ -s $file ]] || return 0
	pid=$(cat "$file")
	kill "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# libvirtd's firewall rules outlive it: its LIBVIRT_* chains, the jumps to them, and the
# tables that only it made (iptables-nft leaves empty tables behind).
remove_libvirt_firewall() {
	local cmd family table rule chain
	for family in ip ip6; do
		cmd=iptables
		[[ $family == ip6 ]] && cmd=ip6tables
		for table in filter nat mangle; do
			$cmd -t "$table" -S >/dev/null 2>&1 || continue
			# Jumps from the built-in chains first, then the chains themselves.
			while read -r rule; do
				# shellcheck disable=SC2086 # a rule is words
				$cmd -t "$table" ${rule/#-A/-D}
			done < <($cmd -t "$table" -S 2>/dev/null | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j LIBVIRT_')
			for chain in $($cmd -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^LIBVIRT_/ {print $2}'); do
				$cmd -t "$table" -F "$chain"
			done
			for chain in $($cmd -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^LIBVIRT_/ {print $2}'); do
				$cmd -t "$table" -X "$chain"
			done
			# A table that was not there before the run and holds no rule now: libvirt's.
			if ! grep -qx "$family $table" "$WORK/nft-tables.before" &&
				nft list table "$family" "$table" >/dev/null 2>&1 &&
				! $cmd -t "$table" -S | grep -qv '^-P'; then
				nft delete table "$family" "$table"
			fi
		done
	done
}

nft_tables() { { nft list tables 2>/dev/null || true; } | awk '{print $2, $3}' | sort; }

# Everything a run could leave on the host, as text; two snapshots are compared.
host_snapshot() (
	# Each part says what is there; none fails the snapshot (no match, no folder: an answer).
	set +e +o pipefail
	trap - ERR
	echo "## processes"
	pgrep -a -f 'libvirtd|virtlogd|dnsmasq|qemu-system' | grep -v pgrep | sed 's/^[0-9]* //' | sort
	echo "## links"
	ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
	echo "## routes"
	ip route show table all | sort
	echo "## iptables"
	iptables-save 2>/dev/null | grep -v '^#' | sed 's/\[[0-9:]*\]//'
	ip6tables-save 2>/dev/null | grep -v '^#' | sed 's/\[[0-9:]*\]//'
	echo "## nft tables"
	nft_tables
	echo "## mounts"
	awk '{print $2, $3}' /proc/mounts | grep -E 'dogfish-vm|libvirt'
	echo "## libvirt files"
	find "${LIBVIRT_PATHS[@]}" -xdev 2>/dev/null | sort
	echo "## temporary files"
	find /tmp /var/tmp -maxdepth 1 \( -name 'dogfish-vm*' -o -name 'vagrant*' -o -name 'libvirt*' \) 2>/dev/null | sort
	echo "## vagrant"
	ls -d ~/.vagrant.d "$ROOT/.vagrant" 2>/dev/null
	return 0
)

# The files the run's libvirtd wrote (new since the snapshot), deepest first: removed.
remove_new_libvirt_files() {
	{ find "${LIBVIRT_PATHS[@]}" -xdev 2>/dev/null || true; } | sort >"$WORK/libvirt-files.after"
	comm -13 <(sed -n '/^## libvirt files$/,/^## /p' "$RESULTS/host.before" | grep '^/' | sort) "$WORK/libvirt-files.after" |
		sort -r | while read -r path; do
		if [[ -d $path && ! -L $path ]]; then rmdir "$path" 2>/dev/null || rm -rf "$path"; else rm -f "$path"; fi
	done
}

# Files named after the run are ours, also those an earlier run's daemons wrote and, killed,
# could not remove (a dnsmasq pid file, a network's state folder). Only with libvirtd stopped.
remove_named_libvirt_files() {
	find "${LIBVIRT_PATHS[@]}" -xdev -name "*${NAME}*" -prune -exec rm -rf {} + 2>/dev/null || true
}

# Our domain (vagrant-libvirt names it after the prefix), its volumes, pool and network;
# all named after the run ($NAME), so none of them is anyone else's. With a reason, says
# what it found; without, removes quietly (the teardown).
remove_libvirt_objects() {
	local why=${1:-} d v found=()
	for d in $(virsh_ list --all --name 2>/dev/null | grep "^${NAME}_" || true); do
		found+=("domain $d")
		virsh_ destroy "$d" >/dev/null 2>&1 || true
		virsh_ undefine "$d" --nvram >/dev/null 2>&1 || virsh_ undefine "$d" >/dev/null 2>&1 || true
	done
	if virsh_ pool-info "$NAME" >/dev/null 2>&1; then
		found+=("pool $NAME")
		# A pool whose folder went with its run cannot start; its volumes went with it.
		for v in $(virsh_ vol-list "$NAME" 2>/dev/null | awk '{print $1}'); do
			virsh_ vol-delete "$v" --pool "$NAME" >/dev/null 2>&1 || true
		done
		virsh_ pool-destroy "$NAME" >/dev/null 2>&1 || true
		virsh_ pool-undefine "$NAME" >/dev/null 2>&1 || true
	fi
	if virsh_ net-info "$NAME" >/dev/null 2>&1; then
		found+=("network $NAME")
		virsh_ net-destroy "$NAME" >/dev/null 2>&1 || true
		virsh_ net-undefine "$NAME" >/dev/null 2>&1 || true
	fi
	if [[ -n $why && ${#found[@]} -gt 0 ]]; then
		local list
		list=$(printf '%s, ' "${found[@]}")
		log "$why: ${list%, } (removed)"
	fi
	return 0
}

# The work folders of earlier runs: one whose libvirtd still runs is a run in progress
# (one at a time on a host); the others are what a killed run could not remove.
remove_earlier_work() {
	local dir pid
	for dir in /var/tmp/dogfish-vm.*; do
		[[ -d $dir ]] || continue
		pid=$(cat "$dir/libvirtd.pid" 2>/dev/null || true)
		if [[ -n $pid ]] && grep -qs libvirtd "/proc/$pid/cmdline"; then
			die "another VM test is running (its libvirtd is pid $pid, its work folder $dir)"
		fi
		log "removing an earlier run's work folder $dir"
		rm -rf "$dir"
	done
}
