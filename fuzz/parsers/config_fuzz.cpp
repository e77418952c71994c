// libFuzzer target: the balancer's YAML configuration. parse_config either
// returns a Config or throws ConfigError. A Config it returns goes where the
// daemon sends it: a data plane sized by it (a fake one here) and the
// reconciler, which applies it or refuses it with Error, then applies it
// again with its first VIP gone. Anything else (another exception, a crash, a
// leak, undefined behaviour) is a bug.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dogfish/base/errors.hpp"
#include "dogfish/config.hpp"
#include "dogfish/df_structs.hpp"
#include "dogfish/reconciler.hpp"
#include "expect.hpp"
#include "fake_data_plane.hpp"

namespace {

// Larger data planes only cost time here: the fake allocates max_reals entries.
constexpr std::uint32_t kMaxRingSize = DF_DEFAULT_RING_SIZE;
constexpr std::uint32_t kMaxReals = DF_DEFAULT_MAX_REALS;

void apply(dogfish::Reconciler& reconciler, const dogfish::FakeDataPlane& dp,
           const dogfish::Config& config) {
  try {
    reconciler.apply(config, dogfish::make_df_config(config));
  } catch (const dogfish::Error&) {
    return;
  }
  DOGFISH_EXPECT(dp.vips.size() == config.vips.size(), "%zu VIPs written, %zu configured",
                 dp.vips.size(), config.vips.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  dogfish::Config config;
  try {
    config = dogfish::parse_config(text, "fuzz.yaml");
  } catch (const dogfish::ConfigError&) {
    return 0;
  }
  for (const auto& vip : config.vips) (void)dogfish::vip_name(vip);
  if (config.ring_size > kMaxRingSize || config.max_reals > kMaxReals) return 0;
  dogfish::FakeDataPlane dp({.ring_size = config.ring_size,
                             .max_vips = config.max_vips,
                             .max_reals = config.max_reals,
                             .conn_entries = config.conn_table_size});
  dogfish::Reconciler reconciler(dp, {.ring_grace = std::chrono::milliseconds(0)});
  apply(reconciler, dp, config);
  if (!config.vips.empty()) config.vips.erase(config.vips.begin());
  apply(reconciler, dp, config);
  return 0;
}
