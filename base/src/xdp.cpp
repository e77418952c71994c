#include "dogfish/base/xdp.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/if_link.h>
#include <net/if.h>

#include <cerrno>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/fd.hpp"
#include "dogfish/base/name_table.hpp"

namespace dogfish {
namespace {

constexpr Named<XdpMode> kModes[] = {
    {XdpMode::native, "native"}, {XdpMode::generic, "generic"}, {XdpMode::automatic, "auto"}};

std::uint32_t flags_of(XdpMode mode) {
  return mode == XdpMode::generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
}

}  // namespace

std::string_view to_string(XdpMode mode) { return name_of<XdpMode>(kModes, mode); }
std::optional<XdpMode> parse_xdp_mode(std::string_view name) {
  return value_of<XdpMode>(kModes, name);
}
std::string xdp_mode_names() { return name_list<XdpMode>(kModes); }

int ifindex_of(const std::string& ifname) {
  unsigned index = if_nametoindex(ifname.c_str());
  if (index == 0)
    throw OsError(errno, fmt::format("interface '{}' in this network namespace", ifname));
  return static_cast<int>(index);
}

std::string bpf_program_name(std::uint32_t id) {
  UniqueFd fd(bpf_prog_get_fd_by_id(id));
  if (!fd) return "";
  bpf_prog_info info{};
  std::uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) return "";
  return info.name;
}

std::optional<XdpProgram> xdp_program_on(int ifindex) {
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  int err = bpf_xdp_query(ifindex, 0, &q);
  if (err) throw OsError(-err, fmt::format("querying the XDP program of ifindex {}", ifindex));
  XdpProgram p;
  switch (q.attach_mode) {
    case XDP_ATTACHED_SKB:
      p = {.id = q.skb_prog_id, .mode = XdpMode::generic};
      break;
    case XDP_ATTACHED_DRV:
    case XDP_ATTACHED_HW:
      p = {.id = q.drv_prog_id ? q.drv_prog_id : q.hw_prog_id, .mode = XdpMode::native};
      break;
    case XDP_ATTACHED_MULTI:
      p = q.drv_prog_id ? XdpProgram{.id = q.drv_prog_id, .mode = XdpMode::native}
                        : XdpProgram{.id = q.skb_prog_id, .mode = XdpMode::generic};
      break;
    default:
      return std::nullopt;
  }
  p.name = bpf_program_name(p.id);
  return p;
}

XdpMode attach_xdp(const std::string& ifname, int prog_fd, XdpMode mode) {
  const int ifindex = ifindex_of(ifname);
  std::optional<XdpProgram> there = xdp_program_on(ifindex);
  if (mode == XdpMode::automatic && there) mode = there->mode;
  if (there && mode != XdpMode::automatic && there->mode != mode) detach_xdp(ifindex, there->mode);

  auto attach = [&](XdpMode m) { return bpf_xdp_attach(ifindex, prog_fd, flags_of(m), nullptr); };
  if (mode == XdpMode::automatic) {
    if (attach(XdpMode::native) == 0) return XdpMode::native;
    mode = XdpMode::generic;
  }
  if (int err = attach(mode))
    throw OsError(-err, fmt::format("attaching XDP to {} in {} mode", ifname, to_string(mode)));
  return mode;
}

bool detach_xdp(int ifindex, XdpMode mode, int expected_prog_fd) {
  std::uint32_t flags = flags_of(mode);
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
  if (expected_prog_fd >= 0) {
    flags |= XDP_FLAGS_REPLACE;
    opts.old_prog_fd = expected_prog_fd;
  }
  int err = bpf_xdp_detach(ifindex, flags, &opts);
  // EEXIST: another program replaced ours; ENODEV: the interface is gone.
  if (err == -EEXIST || err == -ENODEV || err == -ENOENT) return false;
  if (err) throw OsError(-err, fmt::format("detaching XDP from ifindex {}", ifindex));
  return true;
}

std::span<const Named<XdpMode>> xdp_modes() { return kModes; }

}  // namespace dogfish
