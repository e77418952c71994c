// bpffs and every pin path dogfish uses: one place, so the balancer, dogfish-decap,
// the lab and the tests agree on where each program keeps its maps.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

namespace dogfish {

inline constexpr const char* kBpffs = "/sys/fs/bpf";

// Mounts bpffs on /sys/fs/bpf unless it is there; true when this call mounted it.
// Throws OsError. Pins made under `ip netns exec` vanish with its private mount
// namespace (DESIGN.md, lab facts 5): long-lived owners keep the host's mounts.
bool ensure_bpffs();

// The balancer's maps for one interface: /sys/fs/bpf/dogfish/<interface>.
std::filesystem::path balancer_pin_dir(const std::string& interface);

// dogfish-decap's maps, per network namespace (by its inode: interface names repeat
// across namespaces) and interface: /sys/fs/bpf/dogfish-decap/<netns inode>/<interface>.
std::filesystem::path decap_pin_root();
std::filesystem::path decap_netns_pin_dir(ino_t netns_inode);
// The calling thread's network namespace's inode (/proc/thread-self/ns/net); throws OsError.
ino_t current_netns_inode();

}  // namespace dogfish
