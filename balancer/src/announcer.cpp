#include "dogfish/announcer.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "dogfish/base/bird_control.hpp"
#include "dogfish/base/errors.hpp"
#include "dogfish/base/log.hpp"

namespace dogfish {
namespace {

namespace fs = std::filesystem;

void write_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw Error(fmt::format("cannot write {}", tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw OsError(ec.value(), fmt::format("renaming {} to {}", tmp.string(), path.string()));
}

std::string list(const VipRoutes& vips) {
  std::string out;
  for (const IpPrefix& p : vips) out += (out.empty() ? "" : ", ") + p.to_string();
  return out.empty() ? "none" : out;
}

}  // namespace

VipHealth unchecked(const VipConfig&) { return {}; }

VipRoutes addresses_to_announce(const Config& config, const VipHealthOf& health,
                                const VipRoutes& announced) {
  std::map<IpPrefix, VipHealth> by_route;  // up: some service; settled: every service
  for (const VipConfig& v : config.vips) {
    const VipHealth h = health(v);
    auto [it, first] = by_route.try_emplace(ServiceKey::of(v).addresses(), h);
    if (first) continue;
    it->second.up |= h.up;
    it->second.settled &= h.settled;
  }
  VipRoutes out;
  for (const auto& [route, h] : by_route)
    if (h.up && (h.settled || announced.contains(route))) out.insert(route);
  return out;
}

std::string bird_include(const VipRoutes& vips) {
  std::string v4, v6;
  for (const IpPrefix& p : vips)
    (p.address.is_v4() ? v4 : v6) += fmt::format("  route {} blackhole;\n", p.to_string());
  return fmt::format(
      "# Written by dogfish: the VIP addresses this balancer announces. Do not edit.\n"
      "protocol static dogfish_vips4 {{\n  ipv4;\n{}}}\n"
      "protocol static dogfish_vips6 {{\n  ipv6;\n{}}}\n",
      v4, v6);
}

void write_bird_include(const AnnounceConfig& config, const VipRoutes& vips) {
  write_atomically(config.include, bird_include(vips));
}

BirdAnnouncer::BirdAnnouncer(AnnounceConfig config, Reconfigure reconfigure)
    : config_(std::move(config)), reconfigure_(std::move(reconfigure)) {
  if (!reconfigure_) reconfigure_ = [socket = config_.bird_socket] { bird_configure(socket); };
}

void BirdAnnouncer::announce(const VipRoutes& vips) {
  if (told_ == vips) return;
  told_.reset();
  try {
    write_bird_include(config_, vips);
    reconfigure_();
    told_ = vips;
    log_info("announcing {} (BIRD {})", list(vips), config_.bird_socket);
  } catch (const std::exception& e) {
    log_error("announcing {} failed, tried again on the next change: {}", list(vips), e.what());
  }
}

VipAnnouncements::VipAnnouncements(std::unique_ptr<Announcer> announcer,
                                   std::chrono::milliseconds stop_delay, VipHealthOf health)
    : announcer_(std::move(announcer)), stop_delay_(stop_delay), health_(std::move(health)) {}

VipAnnouncements::~VipAnnouncements() {
  if (told_) announcer_->announce({});
}

void VipAnnouncements::applied(const Config& config) {
  if (!serving_) return;
  announced_ = addresses_to_announce(config, health_, announced_);
  announcer_->announce(announced_);
  told_ = true;
}

void VipAnnouncements::set_serving(bool serving, const Config& config) {
  serving_ = serving;
  if (serving) {
    applied(config);
  } else if (told_) {
    announced_.clear();
    announcer_->announce({});
  }
}

void VipAnnouncements::stop() {
  if (!told_) return;
  announcer_->announce({});
  announced_.clear();
  told_ = false;
  log_info("withdrawn; waiting {} ms for the routers to move the traffic", stop_delay_.count());
  std::this_thread::sleep_for(stop_delay_);
}

std::unique_ptr<VipAnnouncements> make_announcements(const Config& config, VipHealthOf health) {
  if (!config.announce) return nullptr;
  return std::make_unique<VipAnnouncements>(std::make_unique<BirdAnnouncer>(*config.announce),
                                            std::chrono::seconds(config.announce->stop_delay_s),
                                            std::move(health));
}

}  // namespace dogfish
