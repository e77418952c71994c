// The gateway's MAC from the kernel's neighbour table (rtnetlink via libmnl),
// probing the address when the table has no usable entry yet.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "dogfish/base/address.hpp"

namespace dogfish {

// The MAC of `address` (IPv4 or IPv6 text) on interface `ifname`, if the
// neighbour table has a usable (reachable, stale, delay, probe, permanent) entry.
std::optional<MacAddress> lookup_neighbor(const std::string& address, const std::string& ifname);

// lookup_neighbor, and when absent, makes the kernel resolve the address (a
// datagram towards it) and polls until `timeout`. Throws naming the address.
MacAddress resolve_neighbor(const std::string& address, const std::string& ifname,
                            std::chrono::milliseconds timeout = std::chrono::seconds(3));

}  // namespace dogfish
