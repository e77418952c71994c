#include "dogfish/base/xdp.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/if_link.h>
#include <net/if.h>

#include <algorithm>
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

std::vector<std::uint32_t> bpf_program_map_ids(std::uint32_t id) {
  UniqueFd fd(bpf_prog_get_fd_by_id(id));
  if (!fd) return {};
  bpf_prog_info info{};
  std::uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) return {};
  // Asked again with room for them: the kernel fills only as many as nr_map_ids says.
  std::vector<std::uint32_t> ids(info.nr_map_ids);
  info = {};
  info.nr_map_ids = static_cast<std::uint32_t>(ids.size());
  info.map_ids = reinterpret_cast<std::uintptr_t>(ids.data());
  len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) return {};
  ids.resize(std::min<std::size_t>(ids.size(), info.nr_map_ids));
  return ids;
}

std::string describe(const XdpProgram& p) {
  return fmt::format("'{}' (id {}, {} mode)", p.name.empty() ? "?" : p.name, p.id,
                     to_string(p.mode));
}

XdpBusy::XdpBusy(const std::string& ifname, XdpProgram there)
    : Error(fmt::format("{} already runs the XDP program {}", ifname, describe(there))),
      there_(std::move(there)) {}

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

XdpMode attach_xdp(const std::string& ifname, int prog_fd, XdpMode mode, XdpReplace replace) {
  const int ifindex = ifindex_of(ifname);
  std::optional<XdpProgram> there = xdp_program_on(ifindex);
  if (replace.kind == XdpReplace::Kind::nothing && there) throw XdpBusy(ifname, *there);
  if (replace.kind == XdpReplace::Kind::program && (!there || there->id != replace.id))
    throw Error(fmt::format("the XDP program on {} changed meanwhile: expected id {}, found {}",
                            ifname, replace.id, there ? describe(*there) : "none"));
  if (mode == XdpMode::automatic && there) mode = there->mode;

  // The one program we may replace, held open so the kernel can check it is still the one there.
  UniqueFd old;
  if (there && replace.kind == XdpReplace::Kind::program) {
    old.reset(bpf_prog_get_fd_by_id(there->id));
    if (!old) throw OsError(errno, fmt::format("opening XDP program {} on {}", there->id, ifname));
  }
  if (there && mode != XdpMode::automatic && there->mode != mode) {
    if (!detach_xdp(ifindex, there->mode, old ? old.get() : -1))
      throw Error(fmt::format("the XDP program on {} changed meanwhile", ifname));
    old.reset();
    there.reset();
  }

  auto attach = [&](XdpMode m) {
    std::uint32_t flags = flags_of(m);
    LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
    if (old) {
      flags |= XDP_FLAGS_REPLACE;
      opts.old_prog_fd = old.get();
    } else if (replace.kind != XdpReplace::Kind::anything) {
      flags |= XDP_FLAGS_UPDATE_IF_NOEXIST;
    }
    return bpf_xdp_attach(ifindex, prog_fd, flags, &opts);
  };
  // With REPLACE or UPDATE_IF_NOEXIST, the kernel's EEXIST / EBUSY say someone came between.
  const bool checked = replace.kind != XdpReplace::Kind::anything;
  auto fail = [&](int err, XdpMode m) {
    if (checked && (err == -EEXIST || err == -EBUSY))
      throw Error(fmt::format("another XDP program was attached to {} meanwhile", ifname));
    throw OsError(-err, fmt::format("attaching XDP to {} in {} mode", ifname, to_string(m)));
  };
  if (mode == XdpMode::automatic) {
    const int err = attach(XdpMode::native);
    if (err == 0) return XdpMode::native;
    if (checked && (err == -EEXIST || err == -EBUSY)) fail(err, XdpMode::native);
    mode = XdpMode::generic;
  }
  if (int err = attach(mode)) fail(err, mode);
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
