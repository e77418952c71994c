#include "baseline_target.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>

#include "dogfish/base/errors.hpp"

namespace dogfish::bench {
namespace {

// The maps a loaded program uses, by the kernel's name for each (an internal map's
// carries the object's name in front: "balancer.bss"); the fds are the caller's to close.
std::map<std::string, int> maps_of(int prog_fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  check_call(bpf_obj_get_info_by_fd(prog_fd, &info, &len), "reading the program's info");
  std::vector<uint32_t> ids(info.nr_map_ids);
  info = {};
  info.nr_map_ids = ids.size();
  info.map_ids = reinterpret_cast<uint64_t>(ids.data());
  len = sizeof(info);
  check_call(bpf_obj_get_info_by_fd(prog_fd, &info, &len), "reading the program's maps");
  std::map<std::string, int> fds;
  for (uint32_t id : ids) {
    int fd = bpf_map_get_fd_by_id(id);
    check_call(fd, fmt::format("opening map {}", id));
    bpf_map_info m{};
    uint32_t mlen = sizeof(m);
    check_call(bpf_obj_get_info_by_fd(fd, &m, &mlen), fmt::format("reading map {}", id));
    fds[m.name] = fd;
  }
  return fds;
}

// The map of fds named like the object's map `name`. Internal maps (".bss") carry
// their object's name in front ("balancer.bss", and in the kernel, truncated).
int find(const std::map<std::string, int>& fds, const std::string& name) {
  const size_t dot = name.find('.');
  const std::string section = dot == std::string::npos ? "" : name.substr(dot);
  for (const auto& [kname, fd] : fds) {
    const size_t kdot = kname.find('.');
    if (kname == name ||
        (!section.empty() && kdot != std::string::npos && kname.substr(kdot) == section))
      return fd;
  }
  return -1;
}

}  // namespace

BaselineTarget::BaselineTarget(const std::string& object_path, DogfishTarget& maps_from)
    : maps_from_(maps_from) {
  obj_ = bpf_object__open_file(object_path.c_str(), nullptr);
  if (!obj_) throw OsError(errno, "baseline: opening " + object_path);
  std::map<std::string, int> fds;
  try {
    fds = maps_of(maps_from.prog_fd());
    fds.merge(maps_of(maps_from.probe_prog_fd()));  // probe_reals: only the tc program reads it
    bpf_map* map;
    bpf_object__for_each_map(map, obj_) {
      const std::string name = bpf_map__name(map);
      int fd = find(fds, name);
      // Read-only data (ring_size) takes the object's defaults, which are the bench's.
      if (name.find(".rodata") != std::string::npos) continue;
      if (fd < 0)
        throw std::runtime_error(
            fmt::format("baseline: {} has a map {} this build does not", object_path, name));
      int err = bpf_map__reuse_fd(map, fd);
      if (err) throw OsError(-err, fmt::format("baseline: sharing map {} with this build", name));
    }
    int err = bpf_object__load(obj_);
    if (err)
      throw OsError(-err, "baseline: loading " + object_path +
                              " (a map whose layout differs from this build's fails here)");
    bpf_program* prog = bpf_object__find_program_by_name(obj_, "balancer");
    if (!prog) throw std::runtime_error("baseline: no program balancer in " + object_path);
    prog_fd_ = bpf_program__fd(prog);
  } catch (...) {
    for (const auto& [name, fd] : fds) close(fd);
    bpf_object__close(obj_);
    throw;
  }
  for (const auto& [name, fd] : fds) close(fd);
}

BaselineTarget::~BaselineTarget() { bpf_object__close(obj_); }

}  // namespace dogfish::bench
