#include "dogfish/base/abi_names.hpp"

#include "dogfish/base/name_table.hpp"

namespace dogfish {
namespace {

constexpr Named<std::uint32_t> kVipFlags[] = {{DF_VIP_NO_CONN_TABLE, "no_conn_table"},
                                              {DF_VIP_SRC_HASH_ONLY, "src_hash_only"},
                                              {DF_VIP_HASH_NO_SRC_PORT, "no_src_port_hash"},
                                              {DF_VIP_HASH_DPORT_ONLY, "dport_hash_only"}};

constexpr ReasonName kBalancerReasons[] = {
#define DF_REASON_NAME(id, name, help) {DF_##id, name, help},
    DF_REASONS(DF_REASON_NAME)
#undef DF_REASON_NAME
};
static_assert(std::size(kBalancerReasons) == DF_REASON_MAX);

constexpr ReasonName kDecapReasons[] = {
#define DF_DECAP_REASON_NAME(id, name, help) {DF_DECAP_##id, name, help},
    DF_DECAP_REASONS(DF_DECAP_REASON_NAME)
#undef DF_DECAP_REASON_NAME
};
static_assert(std::size(kDecapReasons) == DF_DECAP_REASON_MAX);

}  // namespace

std::optional<std::uint32_t> parse_vip_flag(std::string_view name) {
  return value_of<std::uint32_t>(kVipFlags, name);
}

std::vector<std::string> vip_flag_names(std::uint32_t flags) {
  std::vector<std::string> names;
  for (const auto& f : kVipFlags)
    if (flags & f.value) names.emplace_back(f.name);
  return names;
}

std::string vip_flag_list() { return name_list<std::uint32_t>(kVipFlags); }

std::span<const ReasonName> balancer_reasons() { return kBalancerReasons; }
std::span<const ReasonName> decap_reasons() { return kDecapReasons; }

}  // namespace dogfish
