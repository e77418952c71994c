// The control plane's values as the data plane's structs (<dogfish/abi.h>) and back. Every
// translation is here, so byte order, address layout and tick units are decided in one file.
#pragma once

#include <cstdint>

#include "dogfish/base/abi.hpp"
#include "dogfish/base/address.hpp"
#include "dogfish/config.hpp"

namespace dogfish {

df_vip_key to_df_key(const ServiceKey& key);  // a VIP of one address
ServiceKey service_key_of(const df_vip_key& key);
// A prefix VIP's key in vip_prefixes, and back.
df_prefix_key to_df_prefix_key(const ServiceKey& key);
ServiceKey service_key_of(const df_prefix_key& key);
df_vip_addr_key to_df_addr_key(const IpAddress& address);
// A prefix VIPs live on, as vip_addr_pfxs keys it (proto and port 0), and back.
df_prefix_key to_df_addr_prefix_key(const IpPrefix& prefix);
IpPrefix prefix_of(const df_prefix_key& key);
df_real to_df_real(const IpAddress& address, Encap encap);
// The connection-table key the program builds for a packet from `client` to `vip`: byte for
// byte, padding zeroed (the table compares keys as bytes).
df_flow_key to_df_flow_key(const ServiceKey& vip, const Endpoint& client);

// The address a map key or value holds.
IpAddress address_of(const df_vip_addr_key& key);
IpAddress address_of(const df_real& real);
Encap encap_of(const df_real& real);

// Seconds to connection-table ticks (2^DF_TICK_SHIFT ns), rounded up.
std::uint32_t seconds_to_ticks(std::uint32_t seconds);

// The data plane's runtime configuration: outer source prefixes, UDP idle ticks, the ICMP
// switches, the GUE port, the maximum packet size when one was given (auto stays 0 here), and the
// gateway MAC when one was given outright. The daemon resolves the rest (daemon.cpp).
df_config make_df_config(const Config& config);

// Sets the MAC frames leave for (a gateway given by address, once resolved).
void set_gateway_mac(df_config& config, const MacAddress& mac);

}  // namespace dogfish
