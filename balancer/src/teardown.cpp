#include "dogfish/teardown.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "dogfish/announcer.hpp"
#include "dogfish/base/bird_control.hpp"
#include "dogfish/base/bpffs.hpp"
#include "dogfish/base/errors.hpp"
#include "dogfish/base/fd.hpp"
#include "dogfish/bpf_data_plane.hpp"

namespace dogfish {
namespace {

namespace fs = std::filesystem;

// Something accepts on the socket: a daemon is running.
bool daemon_answers(const std::string& path) {
  sockaddr_un sa{};
  if (path.empty() || path.size() >= sizeof(sa.sun_path)) return false;
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  return fd && connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
}

// The ids of the maps pinned in the directory: the program that uses any of them is dogfish's.
std::vector<std::uint32_t> pinned_map_ids(const std::string& dir) {
  std::vector<std::uint32_t> ids;
  for (const std::string& name : balancer_pin_names()) {
    UniqueFd fd(bpf_obj_get((dir + "/" + name).c_str()));
    bpf_map_info info{};
    std::uint32_t len = sizeof(info);
    if (fd && bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0) ids.push_back(info.id);
  }
  return ids;
}

bool uses_any(std::uint32_t prog_id, const std::vector<std::uint32_t>& maps) {
  const std::vector<std::uint32_t> used = bpf_program_map_ids(prog_id);
  return std::any_of(used.begin(), used.end(), [&](std::uint32_t id) {
    return std::find(maps.begin(), maps.end(), id) != maps.end();
  });
}

// The health probes' tc egress program, when it is ours (it uses the pinned maps too).
void detach_probe_encap(int ifindex, const TeardownOptions& o, const std::string& pin_dir,
                        TeardownReport& r) {
  const TcSlot slot = probe_encap_slot(ifindex);
  const std::uint32_t id = tc_program_in(slot);
  if (id == 0 || !uses_any(id, pinned_map_ids(pin_dir))) return;
  UniqueFd fd(bpf_prog_get_fd_by_id(id));
  if (fd) r.probe_encap_detached = detach_tc(slot, "'" + o.interface + "'", fd.get());
}

void detach_ours(const TeardownOptions& o, const std::string& pin_dir, TeardownReport& r) {
  int ifindex = 0;
  try {
    ifindex = ifindex_of(o.interface);
  } catch (const OsError&) {
    return;  // gone with its programs
  }
  r.interface_found = true;
  detach_probe_encap(ifindex, o, pin_dir, r);
  std::optional<XdpProgram> there = xdp_program_on(ifindex);
  if (!there) return;
  if (!uses_any(there->id, pinned_map_ids(pin_dir))) {
    r.left = there;
    return;
  }
  UniqueFd fd(bpf_prog_get_fd_by_id(there->id));
  if (!fd) return;  // it went meanwhile
  if (detach_xdp(ifindex, there->mode, fd.get())) r.detached = there;
}

void remove_pins(const std::string& pin_dir, bool default_dir, TeardownReport& r) {
  for (const std::string& name : balancer_pin_names()) {
    const std::string path = pin_dir + "/" + name;
    if (unlink(path.c_str()) == 0)
      r.pins_removed.push_back(path);
    else if (errno != ENOENT)
      throw OsError(errno, "removing " + path);
  }
  if (rmdir(pin_dir.c_str()) != 0 && errno != ENOENT)
    throw OsError(errno,
                  fmt::format("removing {} (it holds files that are not dogfish's)", pin_dir));
  // /sys/fs/bpf/dogfish, once no interface has pins under it.
  if (default_dir) rmdir(fs::path(pin_dir).parent_path().c_str());
}

void withdraw_routes(const AnnounceConfig& announce, TeardownReport& r) {
  try {
    write_bird_include(announce, {});
    bird_configure(announce.bird_socket);
  } catch (const std::exception& e) {
    r.routes_error = e.what();
    return;
  }
  r.routes_withdrawn = true;
  std::this_thread::sleep_for(std::chrono::seconds(announce.stop_delay_s));
}

}  // namespace

TeardownReport teardown(const TeardownOptions& o) {
  if (daemon_answers(o.socket_path))
    throw Error(fmt::format(
        "a dogfish daemon answers on {}: stop it first (systemctl stop dogfish, or SIGTERM to "
        "it); it serves from what teardown removes",
        o.socket_path));
  TeardownReport r;
  const bool default_dir = o.pin_dir.empty();
  r.pin_dir = default_dir ? balancer_pin_dir(o.interface).string() : o.pin_dir;
  if (o.announce) withdraw_routes(*o.announce, r);
  // The program before the pins, while they still tell which one is ours.
  detach_ours(o, r.pin_dir, r);
  remove_pins(r.pin_dir, default_dir, r);
  return r;
}

}  // namespace dogfish
