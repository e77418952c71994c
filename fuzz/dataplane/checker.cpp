#include "checker.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <linux/bpf.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <span>

#include "dogfish/base/abi_names.hpp"

namespace dogfish::fuzz {
namespace {

// "" when the promise holds, else why not.
template <typename W>
using Predicate = std::string (*)(const W&, const Outcome&);

template <typename W>
struct Promise {
  const char* name;
  Predicate<W> holds;
};

// Frames that left with `verdict` and a reason in [first_reason, end_reason) keep every promise.
template <typename W>
struct Rule {
  std::uint32_t verdict;
  std::uint32_t first_reason, end_reason;
  const char* means;
  std::vector<Promise<W>> promises;
};

std::string reason_name(std::span<const ReasonName> names, std::uint32_t r) {
  return r < names.size() ? names[r].name : fmt::format("reason {}", r);
}

template <typename W>
std::optional<std::string> judge(const std::vector<Rule<W>>& rules,
                                 std::span<const ReasonName> names, const W& world,
                                 const Outcome& o) {
  if (o.verdict == XDP_ABORTED) return "XDP_ABORTED (never allowed)";
  std::optional<std::uint32_t> reason = o.reason();
  if (!reason) {
    std::vector<std::string> which;
    for (std::uint32_t r = 0; r < o.counted.size(); r++)
      if (o.counted[r]) which.push_back(fmt::format("{} {}", reason_name(names, r), o.counted[r]));
    return fmt::format("counted {} reasons ({}), not exactly one",
                       std::accumulate(o.counted.begin(), o.counted.end(), std::uint64_t{0}),
                       which.empty() ? "none" : fmt::format("{}", fmt::join(which, ", ")));
  }
  for (const Rule<W>& rule : rules) {
    if (rule.verdict != o.verdict || *reason < rule.first_reason || *reason >= rule.end_reason)
      continue;
    for (const Promise<W>& p : rule.promises)
      if (std::string why = p.holds(world, o); !why.empty())
        return fmt::format("{} with {}: {}: {}", verdict_name(o.verdict),
                           reason_name(names, *reason), p.name, why);
    return std::nullopt;
  }
  return fmt::format(
      "{} with {}: no rule covers this pair (a new verdict or reason needs its row "
      "in fuzz/dataplane/checker.cpp)",
      verdict_name(o.verdict), reason_name(names, *reason));
}

std::string untouched(const auto&, const Outcome& o) {
  if (o.out == o.in) return "";
  std::size_t i = 0;
  while (i < o.in.size() && i < o.out.size() && o.in[i] == o.out[i]) i++;
  return fmt::format("the frame changed ({} bytes in, {} out, first difference at byte {})",
                     o.in.size(), o.out.size(), i);
}

std::string addr_text(const std::uint8_t* bytes, std::uint8_t family) {
  char buf[INET6_ADDRSTRLEN] = "?";
  inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes, buf, sizeof buf);
  return buf;
}

// ---- the balancer ----------------------------------------------------------

// The client's packet as the balancer must have seen it to send it on: a plain IP
// header (plain_ip), TCP or UDP, its length claim inside the frame and over its headers.
struct ClientPacket {
  IpView ip;
  df_vip_key vip{};
};

// The input's IP header when the balancer may send the packet on whole: plain IPv4 (no
// options, no fragment) or IPv6, whatever it carries (a client's segment, an ICMP error).
std::optional<IpView> plain_ip(const Bytes& in, std::string& why) {
  auto ip = ip_at(in, kEthLen, ethertype(in));
  if (!ip) return why = "the input is no IP packet", std::nullopt;
  if (ip->family == 4 && (ip->version != 4 || ip->header_len != 20))
    return why = "the input's IPv4 header is not a plain 20 bytes", std::nullopt;
  if (ip->family == 6 && ip->version != 6)
    return why = "the input's IPv6 header has version " + std::to_string(ip->version), std::nullopt;
  if (ip->fragment) return why = "the input is a fragment", std::nullopt;
  return ip;
}

std::optional<ClientPacket> client_packet(const Bytes& in, std::string& why) {
  auto ip = plain_ip(in, why);
  if (!ip) return std::nullopt;
  if (ip->proto != kProtoTcp && ip->proto != kProtoUdp)
    return why = fmt::format("the input carries protocol {}", ip->proto), std::nullopt;
  std::size_t l4 = ip->proto == kProtoTcp ? 20 : 8;
  if (ip->total_len < ip->header_len + l4 || ip->total_len > in.size() - kEthLen)
    return why = fmt::format("the input's length claim {} is outside [{}, {}]", ip->total_len,
                             ip->header_len + l4, in.size() - kEthLen),
           std::nullopt;
  auto ports = ports_at(in, kEthLen + ip->header_len, ip->proto);
  if (!ports) return why = "the input's L4 header is cut short", std::nullopt;
  ClientPacket c{.ip = *ip};
  std::memcpy(c.vip.addr, ip->dst.data(), ip->addr_len());
  c.vip.family = ip->family;
  c.vip.port = ports->dst;
  c.vip.proto = ip->proto;
  return c;
}

std::size_t outer_len(const Outcome& o) {
  return ethertype(o.out) == kEthIpv4 ? 20 : ethertype(o.out) == kEthIpv6 ? 40 : 0;
}

std::string grows_by_outer_header(const BalancerWorld&, const Outcome& o) {
  std::size_t outer = outer_len(o);
  if (!outer) return fmt::format("the output's EtherType is {:#06x}", ethertype(o.out));
  if (o.out.size() != o.in.size() + outer)
    return fmt::format("{} bytes in, {} out: not {} more", o.in.size(), o.out.size(), outer);
  return "";
}

std::string carries_client_bytes(const BalancerWorld&, const Outcome& o) {
  std::size_t outer = outer_len(o);
  if (!std::equal(o.in.begin() + kEthLen, o.in.end(), o.out.begin() + kEthLen + outer))
    return "the bytes after the outer header differ from the input's IP packet";
  return "";
}

std::string client_is_for_a_vip(const BalancerWorld& w, const Outcome& o) {
  std::string why;
  auto c = client_packet(o.in, why);
  if (!c) return why;
  if (!w.vip(c->vip))
    return fmt::format("{} port {} proto {} is no VIP", addr_text(c->vip.addr, c->vip.family),
                       ntohs(c->vip.port), c->vip.proto);
  return "";
}

// The balancer's own answers go back where the frame came from, MACs swapped.
std::string ethernet_back_to_sender(const BalancerWorld&, const Outcome& o) {
  if (o.out.size() < 12) return "shorter than an Ethernet header";
  if (!std::equal(o.in.begin() + 6, o.in.begin() + 12, o.out.begin()) ||
      !std::equal(o.in.begin(), o.in.begin() + 6, o.out.begin() + 6))
    return "the MACs are not the input's, swapped";
  return "";
}

std::string ethernet_to_gateway(const BalancerWorld& w, const Outcome& o) {
  if (!w.config.gateway_set) return "sent while the gateway is not set";
  if (std::memcmp(o.out.data(), w.config.gateway_mac, 6) != 0)
    return "the destination MAC is not the gateway's";
  if (!std::equal(o.in.begin(), o.in.begin() + 6, o.out.begin() + 6))
    return "the source MAC is not the one the frame came to";
  return "";
}

std::string outer_header_well_formed(const BalancerWorld&, const Outcome& o) {
  std::string why;
  auto in = plain_ip(o.in, why);
  auto outer = ip_at(o.out, kEthLen, ethertype(o.out));
  if (!in || !outer) return why.empty() ? "no outer header" : why;
  std::uint8_t want_proto = in->family == 4 ? kProtoIpip : kProtoIpv6;
  if (in->family == 6 && outer->family != 6) return "an IPv6 packet in an IPv4 header";
  if (outer->proto != want_proto)
    return fmt::format("protocol {} around an IPv{} packet", outer->proto, in->family);
  if (outer->total_len != in->total_len + outer->header_len)
    return fmt::format("length {} around a packet of {}", outer->total_len, in->total_len);
  if (outer->tos != in->tos || outer->ttl != in->ttl)
    return "TOS or TTL not carried from the input packet";
  if (outer->family == 4) {
    if (o.out[kEthLen] != 0x45) return fmt::format("first byte {:#04x}", o.out[kEthLen]);
    if (outer->fragment) return "the outer header says fragment";
    if (std::uint16_t r = ipv4_checksum_residue(o.out, kEthLen, 20); r != 0)
      return fmt::format("header checksum off by {:#06x}", r);
  } else if (outer->version != 6) {
    return fmt::format("IPv6 version {}", outer->version);
  }
  return "";
}

std::string to_a_real_of_the_vip(const BalancerWorld& w, const Outcome& o) {
  std::string why;
  auto c = client_packet(o.in, why);
  auto outer = ip_at(o.out, kEthLen, ethertype(o.out));
  const WorldVip* vip = c ? w.vip(c->vip) : nullptr;
  if (!vip || !outer) return why.empty() ? "no VIP or no outer header" : why;
  for (std::uint32_t id : vip->pool) {
    const WorldReal* r = w.real(id);
    if (r && r->address.family == outer->family &&
        std::memcmp(r->address.bytes.data(), outer->dst.data(), outer->addr_len()) == 0)
      return "";
  }
  return fmt::format("{} is no real of the VIP", addr_text(outer->dst.data(), outer->family));
}

std::string source_in_prefix(const BalancerWorld& w, const Outcome& o) {
  auto outer = ip_at(o.out, kEthLen, ethertype(o.out));
  if (!outer) return "no outer header";
  const df_config& c = w.config;
  bool in_prefix;
  if (outer->family == 4) {
    std::uint32_t src;
    std::memcpy(&src, outer->src.data(), 4);
    in_prefix = (src & ~c.src4_hostmask) == c.src4_prefix;
  } else {
    std::uint32_t last, prefix_last;
    std::memcpy(&last, outer->src.data() + 12, 4);
    std::memcpy(&prefix_last, c.src6_prefix + 12, 4);
    in_prefix = std::memcmp(outer->src.data(), c.src6_prefix, 12) == 0 &&
                (last & ~c.src6_hostmask) == prefix_last;
  }
  return in_prefix ? "" : addr_text(outer->src.data(), outer->family) + " is outside the prefix";
}

std::string fits_max_packet_size(const BalancerWorld& w, const Outcome& o) {
  std::size_t l3 = o.out.size() - kEthLen;
  auto outer = ip_at(o.out, kEthLen, ethertype(o.out));
  if (outer) l3 = outer->total_len;
  if (w.config.max_pkt_size && l3 > w.config.max_pkt_size)
    return fmt::format("{} bytes over the maximum of {}", l3, w.config.max_pkt_size);
  return "";
}

static_assert(DF_TX_ICMP_TOO_BIG == DF_TX_ICMP_ECHO + 1, "the answers' row covers both reasons");

const std::vector<Rule<BalancerWorld>>& balancer_rules() {
  static const std::vector<Rule<BalancerWorld>> rules = {
      {XDP_TX,
       DF_TX,
       DF_TX + 1,
       "an encapsulation of the input to a real of its VIP",
       {
           {"the frame grows by one outer IP header", grows_by_outer_header},
           {"the client's packet is carried byte for byte", carries_client_bytes},
           {"the client's packet is a whole TCP or UDP packet for a VIP", client_is_for_a_vip},
           {"Ethernet goes to the gateway", ethernet_to_gateway},
           {"the outer header is well formed", outer_header_well_formed},
           {"the outer destination is a real of the VIP", to_a_real_of_the_vip},
           {"the outer source is in the configured prefix", source_in_prefix},
           {"the outer packet fits max_packet_size", fits_max_packet_size},
       }},
      // Answers of the balancer's own: the checker asks only that they go back to the sender.
      // (One row for two reasons: the ABI keeps them next to each other, asserted below.)
      {XDP_TX,
       DF_TX_ICMP_ECHO,
       DF_TX_ICMP_TOO_BIG + 1,
       "an echo reply or a too-big answer from the VIP address",
       {{"Ethernet goes back to the sender", ethernet_back_to_sender}}},
      {XDP_TX,
       DF_TX_ICMP_ERROR,
       DF_TX_ICMP_ERROR + 1,
       "an ICMP error encapsulated to the real of the flow it quotes",
       {
           {"the frame grows by one outer IP header", grows_by_outer_header},
           {"the error is carried byte for byte", carries_client_bytes},
           {"Ethernet goes to the gateway", ethernet_to_gateway},
           {"the outer header is well formed", outer_header_well_formed},
           {"the outer source is in the configured prefix", source_in_prefix},
           {"the outer packet fits max_packet_size", fits_max_packet_size},
       }},
      {XDP_PASS,
       DF_FIRST_PASS,
       DF_FIRST_DROP,
       "the input, untouched",
       {{"the frame is untouched", untouched}}},
      {XDP_DROP, DF_FIRST_DROP, DF_REASON_MAX, "a drop", {}},
  };
  return rules;
}

// ---- decap -----------------------------------------------------------------

// What decap must be sure of before it strips: each admission looks at the
// outer header and admits or refuses. An allow-list of outer sources is one
// more row here (and its field in DecapWorld).
struct Admission {
  const char* name;
  bool (*admits)(const DecapWorld&, const IpView& outer);
};

bool destination_configured(const DecapWorld& w, const IpView& outer) {
  if (w.accept_any) return true;
  for (const IpAddress& a : w.addrs)
    if (a.family == outer.family &&
        std::memcmp(a.bytes.data(), outer.dst.data(), outer.addr_len()) == 0)
      return true;
  return false;
}

constexpr Admission kAdmissions[] = {
    {"the outer destination is one decap strips for", destination_configured},
};

// The encapsulation each strip reason names: outer EtherType and the protocol it carries.
struct StripKind {
  std::uint16_t outer_eth;
  std::uint8_t proto;
  std::uint16_t inner_eth;
};

std::optional<StripKind> strip_kind(std::uint32_t reason) {
  switch (reason) {
    case DF_DECAP_DECAP_4IN4:
      return StripKind{kEthIpv4, kProtoIpip, kEthIpv4};
    case DF_DECAP_DECAP_6IN6:
      return StripKind{kEthIpv6, kProtoIpv6, kEthIpv6};
    case DF_DECAP_DECAP_4IN6:
      return StripKind{kEthIpv6, kProtoIpip, kEthIpv4};
  }
  return std::nullopt;
}

std::optional<IpView> outer_of(const Outcome& o) { return ip_at(o.in, kEthLen, ethertype(o.in)); }

std::string outer_is_the_reasons_kind(const DecapWorld&, const Outcome& o) {
  auto kind = strip_kind(*o.reason());
  auto outer = outer_of(o);
  if (!kind) return "a strip reason with no encapsulation type in the checker";
  if (!outer || ethertype(o.in) != kind->outer_eth || outer->proto != kind->proto)
    return "the outer header is not the encapsulation the reason names";
  return "";
}

std::string every_admission_admits(const DecapWorld& w, const Outcome& o) {
  auto outer = outer_of(o);
  if (!outer) return "no outer header";
  for (const Admission& a : kAdmissions)
    if (!a.admits(w, *outer))
      return fmt::format("refused: {} ({} to {})", a.name,
                         addr_text(outer->src.data(), outer->family),
                         addr_text(outer->dst.data(), outer->family));
  return "";
}

std::string outer_lengths_hold(const DecapWorld&, const Outcome& o) {
  auto outer = outer_of(o);
  auto kind = strip_kind(*o.reason());
  if (!outer || !kind) return "no outer header";
  std::size_t inner_min = kind->inner_eth == kEthIpv4 ? 20 : 40;
  if (outer->family == 4 && (outer->version != 4 || outer->header_len < 20 || outer->fragment))
    return "the outer IPv4 header is malformed or a fragment";
  if (outer->family == 6 && outer->version != 6) return "the outer IPv6 version is not 6";
  if (outer->total_len < outer->header_len + inner_min || outer->total_len > o.in.size() - kEthLen)
    return fmt::format("outer length {} outside [{}, {}]", outer->total_len,
                       outer->header_len + inner_min, o.in.size() - kEthLen);
  return "";
}

std::string stripped_exactly(const DecapWorld&, const Outcome& o) {
  auto outer = outer_of(o);
  auto kind = strip_kind(*o.reason());
  if (!outer || !kind || outer->header_len + kEthLen > o.in.size()) return "no outer header";
  Bytes want(o.in.begin(), o.in.begin() + 12);
  want.push_back(kind->inner_eth >> 8);
  want.push_back(kind->inner_eth & 0xff);
  want.insert(want.end(), o.in.begin() + kEthLen + outer->header_len, o.in.end());
  if (o.out != want)
    return fmt::format("{} bytes out, want the {} of the input less its {}-byte outer header",
                       o.out.size(), o.in.size(), outer->header_len);
  return "";
}

std::string inner_is_what_outer_says(const DecapWorld&, const Outcome& o) {
  auto kind = strip_kind(*o.reason());
  if (!kind) return "no encapsulation type";
  auto inner = ip_at(o.out, kEthLen, kind->inner_eth);
  if (!inner) return "the inner header is cut short";
  if (inner->version != inner->family) return fmt::format("inner version {}", inner->version);
  if (inner->family == 4 && inner->header_len < 20) return "inner IPv4 IHL below 5";
  return "";
}

const std::vector<Rule<DecapWorld>>& decap_rules() {
  static const std::vector<Rule<DecapWorld>> rules = {
      {XDP_PASS,
       0,
       DF_DECAP_TYPES,
       "the inner packet, its outer header stripped",
       {
           {"the outer header is the encapsulation the reason names", outer_is_the_reasons_kind},
           {"every admission rule admits the outer header", every_admission_admits},
           {"the outer lengths hold", outer_lengths_hold},
           {"exactly the outer header is stripped", stripped_exactly},
           {"the inner header is what the outer one says", inner_is_what_outer_says},
       }},
      {XDP_PASS,
       DF_DECAP_FIRST_PASS,
       DF_DECAP_FIRST_DROP,
       "the input, untouched",
       {{"the frame is untouched", untouched}}},
      {XDP_DROP, DF_DECAP_FIRST_DROP, DF_DECAP_REASON_MAX, "a drop", {}},
  };
  return rules;
}

}  // namespace

std::optional<std::uint32_t> Outcome::reason() const {
  std::optional<std::uint32_t> one;
  for (std::uint32_t r = 0; r < counted.size(); r++) {
    if (!counted[r]) continue;
    if (counted[r] != 1 || one) return std::nullopt;
    one = r;
  }
  return one;
}

const char* verdict_name(std::uint32_t verdict) {
  static const char* names[] = {"XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"};
  return verdict < std::size(names) ? names[verdict] : "an unknown verdict";
}

std::optional<std::string> check_balancer(const BalancerWorld& world, const Outcome& o) {
  return judge(balancer_rules(), balancer_reasons(), world, o);
}

std::optional<std::string> check_decap(const DecapWorld& world, const Outcome& o) {
  return judge(decap_rules(), decap_reasons(), world, o);
}

std::optional<std::string> check_round_trip(const Bytes& client, const Outcome& decap) {
  auto reason = decap.reason();
  if (decap.verdict != XDP_PASS || !reason || *reason >= DF_DECAP_TYPES)
    return fmt::format("decap on the real did not strip what the balancer sent ({} with {})",
                       verdict_name(decap.verdict),
                       reason ? decap_reasons()[*reason].name : "no single reason");
  if (decap.out.size() != client.size() ||
      !std::equal(client.begin() + 12, client.end(), decap.out.begin() + 12))
    return "decap on the real did not give back the client's packet";
  return std::nullopt;
}

}  // namespace dogfish::fuzz
