#include "dogfish/base/bpffs.hpp"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cerrno>

#include "dogfish/base/errors.hpp"

namespace dogfish {

bool ensure_bpffs() {
  struct statfs st {};
  if (statfs(kBpffs, &st) == 0 && st.f_type == BPF_FS_MAGIC) return false;
  if (mount("bpf", kBpffs, "bpf", 0, nullptr) != 0)
    throw OsError(errno, std::string("mounting bpffs on ") + kBpffs);
  return true;
}

std::filesystem::path balancer_pin_dir(const std::string& interface) {
  return std::filesystem::path(kBpffs) / "dogfish" / interface;
}

std::filesystem::path decap_pin_root() { return std::filesystem::path(kBpffs) / "dogfish-decap"; }

std::filesystem::path decap_netns_pin_dir(ino_t netns_inode) {
  return decap_pin_root() / std::to_string(netns_inode);
}

ino_t current_netns_inode() {
  struct stat st {};
  if (stat("/proc/thread-self/ns/net", &st) != 0)
    throw OsError(errno, "reading this thread's network namespace");
  return st.st_ino;
}

}  // namespace dogfish
