// Names for the ABI's constants (<dogfish/abi.h>, <dogfish/decap_abi.h>), as the
// configuration, the CLI, stats and the README spell them.
#pragma once

#include <dogfish/abi.h>
#include <dogfish/decap_abi.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dogfish {

// A per-VIP flag (DF_VIP_*): no_conn_table, src_hash_only, no_src_port_hash, dport_hash_only.
std::optional<std::uint32_t> parse_vip_flag(std::string_view name);
std::vector<std::string> vip_flag_names(std::uint32_t flags);
std::string vip_flag_list();  // "no_conn_table, src_hash_only, ...", for errors

// Why a packet left a program: the balancer's DF_REASONS, the decap's DF_DECAP_REASONS.
struct ReasonName {
  std::uint32_t id;
  const char* name;
  const char* help;
};
std::span<const ReasonName> balancer_reasons();  // in DF_REASONS order, indexed by df_reason
std::span<const ReasonName> decap_reasons();     // in DF_DECAP_REASONS order

}  // namespace dogfish
