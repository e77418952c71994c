// What the daemon reads of its interface from the kernel, in its own network namespace.
#pragma once

#include <cstdint>
#include <string>

namespace dogfish {

// The interface's MTU: the largest IP packet it sends. Throws OsError naming the interface.
std::uint32_t interface_mtu(const std::string& ifname);

// The interface is up with a carrier (IFF_UP and IFF_RUNNING): it can send. Throws OsError
// naming the interface (one gone, say).
bool interface_running(const std::string& ifname);

}  // namespace dogfish
