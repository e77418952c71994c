// libFuzzer target: the lab's topologies. parse_topology either returns a
// Topology or throws ConfigError; for one it returns, planning either works or
// throws Error, and the balancer accepts the configuration the lab writes for it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dogfish/base/errors.hpp"
#include "dogfish/config.hpp"
#include "dogfish/lab/plan.hpp"
#include "dogfish/lab/topology.hpp"
#include "expect.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  dogfish::lab::Topology topology;
  dogfish::lab::Plan plan;
  try {
    topology = dogfish::lab::parse_topology(text, "fuzz.yaml");
    plan = dogfish::lab::make_plan(topology);
  } catch (const dogfish::Error&) {
    return 0;
  }
  for (const dogfish::lab::PlannedBalancer& balancer : plan.balancers) {
    const std::string config = dogfish::lab::balancer_config(topology, balancer, std::nullopt);
    try {
      dogfish::parse_config(config, "balancer.yaml");
    } catch (const dogfish::ConfigError& e) {
      DOGFISH_EXPECT(false,
                     "the lab accepted a topology whose balancer configuration the balancer "
                     "refuses: %s\n%s",
                     e.what(), config.c_str());
    }
  }
  return 0;
}
