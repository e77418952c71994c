// Which real one flow goes to now, and why: what the program decides for the flow's next
// packet that is not a SYN. The connection table's entry when it has one whose real is still
// in the data plane (and, for UDP, not idle past udp_idle_ticks); the VIP's ring otherwise,
// at the slot the flow's hash picks (bpf/balancer.bpf.c, choose_real and ring_lookup).
//
// A table entry that names a real id the data plane no longer has is stale: the program
// re-hashes the flow at its next packet, so the answer is the ring's, with the stale id.
// A flow in its handshake (a SYN seen, no ACK yet) is answered from the ring, as the SYN was.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "dogfish/base/address.hpp"
#include "dogfish/config.hpp"
#include "dogfish/data_plane.hpp"
#include "dogfish/reconciler.hpp"

namespace dogfish {

struct FlowAnswer {
  enum class From { table, ring };
  From from = From::ring;
  std::uint32_t real_id = DF_REAL_NONE;  // DF_REAL_NONE: the ring's slot is empty
  std::optional<IpAddress> real;         // the real_id's address, when it has one
  std::uint32_t hash = 0;                // the flow's df_flow_hash (the entry's, on a hit)
  // From the ring: which one, the hash that picked the slot (df_ring_hash: the VIP's hash
  // choice), and the slot.
  std::uint32_t ring = 0;
  std::uint32_t ring_hash = 0;
  std::uint32_t slot = 0;
  // Why a table entry did not decide: its real is gone, or (UDP) it idled out.
  std::optional<std::uint32_t> stale_real_id;
  bool expired = false;
};

const char* to_string(FlowAnswer::From from);

// A client's "ADDRESS:PORT" ("[IPv6]:PORT"); throws Error naming the text when it is not one.
Endpoint parse_client(std::string_view text);

// Throws Error naming both when the client's address family is not the VIP's.
void check_client_family(const ServiceKey& vip, const Endpoint& client);

// The slot of a ring of `ring_size` that the program reads for a flow, and the hash it uses.
struct RingPick {
  std::uint32_t hash;
  std::uint32_t slot;
};
RingPick ring_pick(const df_flow_key& key, std::uint32_t vip_flags, std::uint32_t ring_size);

// The answer for `client` to `vip` (the address and port the client asks: the VIP the program
// looks them up as, vip_match.hpp), at `now_ticks` (CLOCK_MONOTONIC_COARSE >> DF_TICK_SHIFT,
// the program's clock). Throws Error for a destination no VIP serves, an any-port or prefix key
// (a flow has one port and one address), or a client of another address family.
FlowAnswer find_flow_real(const DataPlane& dp, const AppliedState& state, const ServiceKey& vip,
                          const Endpoint& client, std::uint32_t now_ticks);

// The program's clock now, in connection-table ticks.
std::uint32_t conn_table_now_ticks();

}  // namespace dogfish
