#include "dogfish/flow_query.hpp"

#include <dogfish/flow_hash.h>
#include <fmt/format.h>

#include <ctime>

#include "dogfish/base/errors.hpp"
#include "dogfish/df_structs.hpp"
#include "dogfish/vip_match.hpp"

namespace dogfish {
namespace {

std::optional<IpAddress> address_of_id(const AppliedState& state, std::uint32_t id) {
  for (const auto& [address, real_id] : state.real_ids)
    if (real_id == id) return address;
  return std::nullopt;
}

const char* family_name(const IpAddress& a) { return a.is_v4() ? "IPv4" : "IPv6"; }

}  // namespace

const char* to_string(FlowAnswer::From from) {
  return from == FlowAnswer::From::table ? "table" : "ring";
}

Endpoint parse_client(std::string_view text) {
  auto ep = Endpoint::parse(text);
  if (!ep)
    throw Error(fmt::format(
        "'{}' is not a client ADDRESS:PORT (IPv6 as [ADDRESS]:PORT, port 1..65535)", text));
  return *ep;
}

void check_client_family(const ServiceKey& vip, const Endpoint& client) {
  if (client.address.family != vip.address.family)
    throw Error(fmt::format("client {} is {}, VIP {} is {}", client.to_string(),
                            family_name(client.address), to_string(vip), family_name(vip.address)));
}

RingPick ring_pick(const df_flow_key& key, std::uint32_t vip_flags, std::uint32_t ring_size) {
  const std::uint32_t hash = df_ring_hash(&key, vip_flags, df_flow_hash(&key));
  return {hash, df_ring_slot(hash, ring_size)};
}

FlowAnswer find_flow_real(const DataPlane& dp, const AppliedState& state, const ServiceKey& vip,
                          const Endpoint& client, std::uint32_t now_ticks) {
  if (vip.port == DF_VIP_ANY_PORT)
    throw Error(fmt::format("{}: name the port the client asks (a flow has one)", to_string(vip)));
  if (vip.prefix_len)
    throw Error(
        fmt::format("{}: name the address the client asks (a flow has one)", to_string(vip)));
  // The program's rule (vip_match.hpp): the exact VIP, any-port, then prefix VIPs.
  const std::optional<ServiceKey> owner = VipMatcher::of(state.vips).owner(vip);
  if (!owner) throw Error(fmt::format("unknown VIP {}", to_string(vip)));
  const auto applied = state.vips.find(*owner);
  check_client_family(vip, client);
  const df_flow_key key = to_df_flow_key(vip, client);
  const std::uint32_t flags = applied->second.flags;
  FlowAnswer a;
  a.hash = df_flow_hash(&key);
  if (!(flags & DF_VIP_NO_CONN_TABLE)) {
    if (std::optional<df_conn> conn = dp.find_flow(key)) {
      const std::uint32_t idle_ticks = state.config ? state.config->udp_idle_ticks : 0;
      a.expired = vip.proto == Proto::udp && idle_ticks && now_ticks - conn->atime > idle_ticks;
      std::optional<IpAddress> real = address_of_id(state, conn->real_id);
      if (!real) {
        a.stale_real_id = conn->real_id;
      } else if (!a.expired) {
        a.from = FlowAnswer::From::table;
        a.real_id = conn->real_id;
        a.real = real;
        a.hash = conn->hash;
        return a;
      }
    }
  }
  const RingPick pick = ring_pick(key, flags, dp.limits().ring_size);
  a.ring = applied->second.ring;
  a.ring_hash = pick.hash;
  a.slot = pick.slot;
  const std::vector<std::uint32_t> ring = dp.read_ring(a.ring);
  a.real_id = pick.slot < ring.size() ? ring[pick.slot] : DF_REAL_NONE;
  a.real = address_of_id(state, a.real_id);
  return a;
}

std::uint32_t conn_table_now_ticks() {
  // bpf_ktime_get_coarse_ns reads this clock.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  const std::uint64_t ns = std::uint64_t(ts.tv_sec) * 1'000'000'000ULL + ts.tv_nsec;
  return static_cast<std::uint32_t>(ns >> DF_TICK_SHIFT);
}

}  // namespace dogfish
