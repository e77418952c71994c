#include "dogfish/base/tc.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/log.hpp"

namespace dogfish {
namespace {

bpf_tc_hook hook_of(const TcSlot& slot) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = slot.ifindex;
  hook.attach_point = slot.direction == TcDirection::ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
  return hook;
}

const char* name_of(TcDirection d) { return d == TcDirection::ingress ? "ingress" : "egress"; }

std::uint32_t prog_id_of(int prog_fd) {
  bpf_prog_info info{};
  std::uint32_t len = sizeof(info);
  return bpf_obj_get_info_by_fd(prog_fd, &info, &len) == 0 ? info.id : 0;
}

}  // namespace

std::uint32_t tc_program_in(const TcSlot& slot) {
  bpf_tc_hook hook = hook_of(slot);
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = slot.handle, .priority = slot.priority);
  QuietLibbpf quiet;  // no clsact qdisc or no filter: both mean "none"
  return bpf_tc_query(&hook, &opts) == 0 ? opts.prog_id : 0;
}

void attach_tc(const TcSlot& slot, int prog_fd, const std::string& what) {
  bpf_tc_hook hook = hook_of(slot);
  int err;
  {
    QuietLibbpf quiet;  // an existing clsact qdisc is fine
    err = bpf_tc_hook_create(&hook);
  }
  if (err && err != -EEXIST) throw OsError(-err, "create clsact qdisc on " + what);
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE,
              .handle = slot.handle, .priority = slot.priority);
  err = bpf_tc_attach(&hook, &opts);
  if (err)
    throw OsError(-err,
                  std::string("attach tc program to ") + name_of(slot.direction) + " of " + what);
}

bool detach_tc(const TcSlot& slot, const std::string& what, int expected_prog_fd) {
  std::uint32_t id = tc_program_in(slot);
  if (id == 0) return false;
  if (expected_prog_fd >= 0 && id != prog_id_of(expected_prog_fd)) return false;
  bpf_tc_hook hook = hook_of(slot);
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = slot.handle, .priority = slot.priority);
  int err = bpf_tc_detach(&hook, &opts);
  if (err == -ENOENT || err == -ENODEV) return false;  // gone meanwhile
  if (err)
    throw OsError(-err,
                  std::string("detach tc program from ") + name_of(slot.direction) + " of " + what);
  return true;
}

}  // namespace dogfish
