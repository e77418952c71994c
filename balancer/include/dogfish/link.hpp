// What the daemon reads of its interface from the kernel, in its own network namespace.
#pragma once

#include <cstdint>
#include <string>

namespace dogfish {

// The interface's MTU: the largest IP packet it sends. Throws OsError naming the interface.
std::uint32_t interface_mtu(const std::string& ifname);

}  // namespace dogfish
