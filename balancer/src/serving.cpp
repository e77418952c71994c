#include "dogfish/serving.hpp"

#include <fmt/format.h>

#include <exception>
#include <utility>

#include "dogfish/base/log.hpp"
#include "dogfish/base/xdp.hpp"
#include "dogfish/link.hpp"

namespace dogfish {

std::string to_string(const ServingState& state) {
  return fmt::format("link {}, program {}", state.link_up ? "up" : "down",
                     state.attached ? "attached" : "not attached");
}

ServingState read_serving(const std::string& ifname,
                          const std::function<bool(std::uint32_t prog_id)>& ours) {
  try {
    const std::optional<XdpProgram> there = xdp_program_on(ifindex_of(ifname));
    return {.link_up = interface_running(ifname), .attached = there && ours(there->id)};
  } catch (const std::exception& e) {
    log_debug("reading the state of {}: {}", ifname, e.what());
    return {.link_up = false, .attached = false};
  }
}

ServingWatch::ServingWatch(Read read, HealthMonitor& health, Changed changed)
    : read_(std::move(read)), health_(health), changed_(std::move(changed)) {}

void ServingWatch::poll() {
  const ServingState now = read_();
  if (now == state_) return;
  const ServingState before = std::exchange(state_, now);
  if (now.link_up && !before.link_up) health_.unsettle();
  if (now.serving())
    log_info("{}: serving again; VIPs announced as their health settles", to_string(now));
  else
    log_warn("{}: not serving; VIPs withdrawn where announced", to_string(now));
  changed_(now);
}

}  // namespace dogfish
