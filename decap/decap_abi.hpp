// The decap ABI seen from C++: <dogfish/decap_abi.h> plus the checks that the
// layout is what the BPF side compiled, and the reason names from its X-macro.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

extern "C" {
#include <dogfish/decap_abi.h>
}

namespace dogfish::decap {

static_assert(sizeof(df_decap_addr) == 20);
static_assert(offsetof(df_decap_addr, family) == 16);
static_assert(sizeof(df_decap_config) == 8);
static_assert(sizeof(df_decap_stats) == 8 * (DF_DECAP_REASON_MAX + DF_DECAP_TYPES));
static_assert(offsetof(df_decap_stats, decap_bytes) == 8 * DF_DECAP_REASON_MAX);

struct ReasonInfo {
  std::string_view name;
  std::string_view help;
};

inline constexpr std::array<ReasonInfo, DF_DECAP_REASON_MAX> kReasons = {{
#define DF_DECAP_REASON_INFO(id, name, help) {name, help},
    DF_DECAP_REASONS(DF_DECAP_REASON_INFO)
#undef DF_DECAP_REASON_INFO
}};

}  // namespace dogfish::decap
