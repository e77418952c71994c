#include "dogfish_target.hpp"

#include <arpa/inet.h>
#include <dogfish/abi.h>
#include <netinet/in.h>

#include <cstring>

#include "dogfish/base/address.hpp"
#include "dogfish/config.hpp"
#include "dogfish/df_structs.hpp"

namespace dogfish::bench {
namespace {

IpAddress addr(const char* text) { return *IpAddress::parse(text); }

// The prefix VIP's id: its packet counter proves a path took the prefix lookup.
constexpr uint32_t kPrefixVipId = 6;

}  // namespace

DogfishTarget::DogfishTarget(uint32_t conn_entries, uint32_t insert_rate)
    : dp_(std::make_unique<BpfDataPlane>(
          BpfDataPlaneOptions{.limits = {.ring_size = Service::ring_size,
                                         .max_vips = 8,
                                         .max_reals = 16,
                                         .conn_entries = conn_entries}})),
      insert_rate_(insert_rate) {
  configure();
}

void DogfishTarget::set_limits(PathKind kind, uint32_t insert_rate) {
  df_config c = dp_->config();
  c.conn_insert_rate = insert_rate;
  c.max_pkt_size = kind == PathKind::too_big      ? Service::too_big_max4
                   : kind == PathKind::v6_too_big ? Service::too_big_max6
                                                  : 0;
  dp_->set_config(c);
}

void DogfishTarget::configure() {
  using S = Service;
  const char* reals[] = {S::real4[0],     S::real4[1],     S::real6[0],     S::real6[1],
                         S::gue_real4[0], S::gue_real4[1], S::gue_real6[0], S::gue_real6[1]};
  for (uint32_t id = 1; id <= 8; id++)
    dp_->put_real(id, to_df_real(addr(reals[id - 1]), id <= 4 ? Encap::ipip : Encap::gue));
  auto ring = [&](uint32_t ring, uint32_t a, uint32_t b) {
    std::vector<uint32_t> ids(S::ring_size);
    for (uint32_t i = 0; i < S::ring_size; i++) ids[i] = i % 2 ? b : a;
    dp_->write_ring(ring, ids);
  };
  ring(0, 1, 2);
  ring(1, 3, 4);
  ring(4, 5, 6);  // 2 is point_ring_at's spare
  ring(5, 7, 8);
  auto vip = [&](const char* text, uint16_t port, uint8_t proto, uint32_t vip_id, uint32_t ring) {
    const IpAddress a = addr(text);
    df_vip_key key{};
    std::memcpy(key.addr, a.bytes.data(), 16);
    key.port = htons(port);
    key.proto = proto;
    key.family = a.family;
    dp_->put_vip(key, {.vip_id = vip_id, .flags = 0, .ring_slot = ring, .pad = 0});
    df_vip_addr_key akey{};
    std::memcpy(akey.addr, a.bytes.data(), 16);
    akey.family = a.family;
    dp_->put_vip_addr(akey);
  };
  vip(S::vip4, S::tcp_port, IPPROTO_TCP, 0, 0);
  vip(S::vip4, S::udp_port, IPPROTO_UDP, 1, 0);
  vip(S::vip6, S::tcp_port, IPPROTO_TCP, 2, 1);
  vip(S::any_port_vip4, DF_VIP_ANY_PORT, IPPROTO_TCP, 3, 0);
  const IpPrefix prefix = *IpPrefix::parse(S::prefix_vip4);
  dp_->put_vip_prefix(to_df_prefix_key({prefix.address, S::tcp_port, Proto::tcp, prefix.length}),
                      {.vip_id = kPrefixVipId, .flags = 0, .ring_slot = 0, .pad = 0});
  dp_->put_vip_addr_prefix(to_df_addr_prefix_key(prefix));
  vip(S::gue_vip4, S::tcp_port, IPPROTO_TCP, 4, 4);
  vip(S::gue_vip6, S::tcp_port, IPPROTO_TCP, 5, 5);

  df_config c{};
  std::memcpy(c.gateway_mac, S::gateway_mac, 6);
  c.gateway_set = 1;
  c.udp_idle_ticks = seconds_to_ticks(30);
  c.src4_prefix = htonl(0xac100000);  // 172.16.0.0/12
  c.src4_hostmask = htonl(0x000fffff);
  const IpAddress src6 = addr("fd00:5::");
  std::memcpy(c.src6_prefix, src6.bytes.data(), 16);
  c.src6_hostmask = htonl(0x0000ffff);
  c.conn_insert_rate = insert_rate_;
  c.gue_port = htons(DF_DEFAULT_GUE_PORT);
  dp_->set_config(c);
}

uint64_t DogfishTarget::table_bytes() const { return map_memlock(dp_->conn_table_fd()); }

std::vector<size_t> DogfishTarget::table_entries() const {
  return {map_entries(dp_->conn_table_fd())};
}

void DogfishTarget::point_ring_at(uint32_t real_id) {
  // A ring no VIP reads (configure() uses 0 and 1), then the VIP flips to it.
  const uint32_t spare = 2;
  dp_->write_ring(spare, std::vector<uint32_t>(Service::ring_size, real_id));
  for (const auto& [key, meta] : dp_->read_vips())
    if (key.proto == IPPROTO_TCP && key.family == DF_FAMILY_V4)
      dp_->put_vip(key, {.vip_id = meta.vip_id, .flags = meta.flags, .ring_slot = spare, .pad = 0});
  for (const auto& [key, meta] : dp_->read_vip_prefixes())
    dp_->put_vip_prefix(key,
                        {.vip_id = meta.vip_id, .flags = meta.flags, .ring_slot = spare, .pad = 0});
}

std::vector<std::string> DogfishTarget::counter_names() const {
  return {"tx",           "pass_not_vip",    "reasons",       "conn_hit",
          "conn_miss",    "conn_expired",    "hash",          "proven",
          "inserted",     "skipped",         "replaced",      "inserted+skipped",
          "tx_icmp_echo", "tx_icmp_too_big", "tx_icmp_error", "prefix_vip"};
}

Counts DogfishTarget::counters() const {
  const DataPlaneStats stats = dp_->stats();
  const df_global_stats& s = stats.global;  // summed over CPUs
  uint64_t reasons = 0;
  for (uint64_t r : s.reason) reasons += r;
  return {s.reason[DF_TX],
          s.reason[DF_PASS_NOT_VIP],
          reasons,
          s.conn_hit,
          s.conn_miss,
          s.conn_expired,
          s.hash_decisions,
          s.conn_proven,
          s.conn_inserted,
          s.conn_skipped,
          s.conn_replaced,
          s.conn_inserted + s.conn_skipped,
          s.reason[DF_TX_ICMP_ECHO],
          s.reason[DF_TX_ICMP_TOO_BIG],
          s.reason[DF_TX_ICMP_ERROR],
          stats.vips.at(kPrefixVipId).packets};
}

std::vector<int64_t> DogfishTarget::expect(PathKind kind) const {
  // A miss is remembered or skipped, as the flood guard's budget allows. An echo or
  // an ICMP error touches no table; a too-big packet finds its flow's entry first.
  //        tx pass reasons hit miss expired hash proven ins  skip  repl ins+skip echo big error
  //        prefix_vip (packets counted under the prefix VIP)
  switch (kind) {
    case PathKind::syn_fixed:
    case PathKind::syn_random:
    case PathKind::v6_syn:
      return {1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    case PathKind::nonsyn_miss:
    case PathKind::udp_random:
      return {1, 0, 1, 0, 1, 0, 1, 0, kAny, kAny, 0, 1, 0, 0, 0, 0};
    case PathKind::table_hit:
    case PathKind::udp_hit:
    case PathKind::v6_hit:
    case PathKind::any_port_hit:
    case PathKind::gue_hit:
    case PathKind::v6_gue_hit:
      return {1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    case PathKind::prefix_hit:
      return {1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    case PathKind::not_vip:
      return {0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    case PathKind::icmp_echo:
    case PathKind::v6_icmp_echo:
      return {0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};
    case PathKind::too_big:
    case PathKind::v6_too_big:
      return {0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0};
    case PathKind::icmp_to_real:
      return {0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
  }
  return {};
}

}  // namespace dogfish::bench
