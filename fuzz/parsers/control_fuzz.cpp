// libFuzzer target: the control protocol. Each line of the input is one request
// to a Controller over a fake data plane. handle_line never throws; it answers
// a JSON object with "ok": true or an "error" string; a refused request changes
// neither the data plane nor the configuration; the data plane holds the VIPs
// the configuration has.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dogfish/config.hpp"
#include "dogfish/controller.hpp"
#include "dogfish/df_structs.hpp"
#include "dogfish/reconciler.hpp"
#include "expect.hpp"
#include "fake_data_plane.hpp"

namespace {

// Small limits, so requests run into them: a third VIP, a sixth real.
constexpr dogfish::DataPlaneLimits kLimits = {.ring_size = 17, .max_vips = 3, .max_reals = 6};
constexpr const char* kConfig = R"(
{interface: eth1, gateway: "02:00:00:00:00:02", ring_size: 17, max_vips: 3, max_reals: 6,
 vips: [{address: 10.0.0.1, port: 80, proto: tcp,
         reals: [{address: 10.1.0.1}, {address: 10.1.0.2, weight: 2}]},
        {address: "fd00::1", port: 53, proto: udp, flags: [no_conn_table],
         reals: [{address: "fd00:1::1"}]}]}
)";

constexpr std::size_t kMaxRequests = 64;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using nlohmann::json;
  dogfish::FakeDataPlane dp(kLimits);
  dogfish::Reconciler reconciler(dp, {.ring_grace = std::chrono::milliseconds(0)});
  auto load = [] { return dogfish::parse_config(kConfig, "fuzz.yaml"); };
  dogfish::Controller ctl(
      reconciler, dp, [](const dogfish::Config& c) { return dogfish::make_df_config(c); }, load);
  ctl.apply(load());

  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (std::size_t n = 0; n < kMaxRequests && !input.empty(); n++) {
    std::size_t eol = input.find('\n');
    std::string_view line = input.substr(0, eol);
    input = eol == std::string_view::npos ? std::string_view() : input.substr(eol + 1);

    int writes = dp.writes;
    dogfish::Config before = ctl.config();
    json answer = ctl.handle_line(line);
    std::string shown = answer.dump(-1, ' ', false, json::error_handler_t::replace);
    DOGFISH_EXPECT(answer.is_object(), "%s", shown.c_str());
    bool ok = answer.contains("ok"), error = answer.contains("error");
    DOGFISH_EXPECT(ok != error, "%s", shown.c_str());
    if (ok) {
      DOGFISH_EXPECT(answer["ok"] == true, "%s", shown.c_str());
    } else {
      DOGFISH_EXPECT(answer["error"].is_string(), "%s", shown.c_str());
      DOGFISH_EXPECT(dp.writes == writes, "a refused request wrote: %s", shown.c_str());
      DOGFISH_EXPECT(ctl.config() == before, "a refused request changed the config: %s",
                     shown.c_str());
    }
    DOGFISH_EXPECT(dp.vips.size() == ctl.config().vips.size(),
                   "%zu VIPs in the data plane, %zu configured", dp.vips.size(),
                   ctl.config().vips.size());
  }
  return 0;
}
