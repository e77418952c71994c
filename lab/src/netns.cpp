#include "dogfish/lab/netns.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <limits.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "dogfish/base/errors.hpp"

namespace dogfish::lab {

namespace fs = std::filesystem;

std::string netns_path(const std::string& name) {
  // The rules of iproute2's is_valid_netns_name: anything else escapes /run/netns.
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.size() >= NAME_MAX)
    throw Error(fmt::format("invalid network namespace name '{}'", name));
  return std::string(netns_run_dir) + "/" + name;
}

std::string describe_netns(const std::string& name) {
  if (name.empty()) return "the current network namespace";
  return fmt::format("network namespace '{}'", name);
}

// iproute2's netns_add: /run/netns must be a shared mount point so that the bind mounts
// made under it show in every mount namespace (ip netns exec makes new ones), and that
// needs a bind mount of the directory onto itself the first time.
static void make_run_dir_shared() {
  if (mkdir(netns_run_dir, 0755) != 0 && errno != EEXIST)
    throw OsError(errno, fmt::format("create {}", netns_run_dir));
  bool bound = false;
  while (mount("", netns_run_dir, "none", MS_SHARED | MS_REC, nullptr) != 0) {
    if (errno != EINVAL || bound)
      throw OsError(errno, fmt::format("make {} a shared mount point", netns_run_dir));
    if (mount(netns_run_dir, netns_run_dir, "none", MS_BIND | MS_REC, nullptr) != 0)
      throw OsError(errno, fmt::format("bind-mount {} onto itself", netns_run_dir));
    bound = true;
  }
}

void create_netns(const std::string& name) {
  std::string path = netns_path(name);
  make_run_dir_shared();

  if (UniqueFd fd(open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)); !fd) {
    if (errno == EEXIST) throw Error(fmt::format("network namespace '{}' already exists", name));
    throw OsError(errno, fmt::format("create {}", path));
  }

  // A thread of its own, so the caller stays where it is. /proc/self would name the
  // main thread's namespace: the new one is the thread's.
  int error = 0;
  const char* step = nullptr;
  std::thread([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      error = errno;
      step = "unshare(CLONE_NEWNET)";
    } else if (mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
      error = errno;
      step = "bind-mount its namespace";
    }
  }).join();
  if (error != 0) {
    unlink(path.c_str());
    throw OsError(error, fmt::format("create network namespace '{}': {}", name, step));
  }
}

bool delete_netns(const std::string& name) {
  std::string path = netns_path(name);
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    throw OsError(errno, fmt::format("look up {}", path));
  }
  // EINVAL: a file left without its mount (a crash half-way through create): still remove it.
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL)
    throw OsError(errno, fmt::format("unmount network namespace '{}' ({})", name, path));
  if (unlink(path.c_str()) != 0 && errno != ENOENT)
    throw OsError(errno, fmt::format("remove network namespace '{}' ({})", name, path));
  return true;
}

bool netns_exists(const std::string& name) {
  struct stat st {};
  return lstat(netns_path(name).c_str(), &st) == 0;
}

std::vector<int> pids_in_netns(const std::string& name) {
  struct stat ns {};
  if (stat(netns_path(name).c_str(), &ns) != 0) return {};
  std::vector<int> pids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    struct stat st {};
    if (stat((entry.path() / "ns/net").c_str(), &st) == 0 && st.st_ino == ns.st_ino &&
        st.st_dev == ns.st_dev)
      pids.push_back(std::stoi(pid));
  }
  return pids;
}

std::vector<std::string> list_netns() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(netns_run_dir, ec))
    names.push_back(entry.path().filename().string());
  if (ec && ec != std::errc::no_such_file_or_directory)
    throw OsError(ec.value(), fmt::format("list {}", netns_run_dir));
  std::sort(names.begin(), names.end());
  return names;
}

NetnsFd::NetnsFd(const std::string& name) : name_(name) {
  std::string path = netns_path(name);
  fd_.reset(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd_) throw OsError(errno, fmt::format("open network namespace '{}' ({})", name, path));
}

void enter_netns(const NetnsFd& ns) {
  if (setns(ns.get(), CLONE_NEWNET) != 0)
    throw OsError(errno, fmt::format("enter network namespace '{}'", ns.name()));
}

void enter_netns(const std::string& name) { enter_netns(NetnsFd(name)); }

static std::string sysctl_path(const std::string& key) {
  std::string relative = key;
  if (relative.find('/') == std::string::npos)
    std::replace(relative.begin(), relative.end(), '.', '/');
  if (relative.empty() || relative.front() == '/' || relative.find("..") != std::string::npos)
    throw Error(fmt::format("invalid sysctl key '{}'", key));
  return "/proc/sys/" + relative;
}

// /proc/sys/net resolves to the namespace of the thread that opens it; reads and writes
// through the fd act there whichever thread makes them.
static UniqueFd open_sysctl(const std::string& netns, const std::string& key, int flags,
                            const std::string& where) {
  std::string path = sysctl_path(key);
  auto [fd, error] = in_netns(netns, [&] {
    int fd = open(path.c_str(), flags | O_CLOEXEC);
    return std::pair{fd, errno};  // errno is the thread's own
  });
  if (fd < 0) throw OsError(error, where);
  return UniqueFd(fd);
}

void set_sysctl(const std::string& netns, const std::string& key, const std::string& value) {
  auto where = [&] {
    return fmt::format("set sysctl {} to {} in {}", key, value, describe_netns(netns));
  };
  const UniqueFd fd = open_sysctl(netns, key, O_WRONLY, where());
  ssize_t written = write(fd.get(), value.data(), value.size());
  if (written < 0) throw OsError(errno, where());
  if (static_cast<std::size_t>(written) != value.size()) throw Error(where() + ": short write");
}

std::string read_sysctl(const std::string& netns, const std::string& key) {
  std::string where = fmt::format("read sysctl {} in {}", key, describe_netns(netns));
  const UniqueFd fd = open_sysctl(netns, key, O_RDONLY, where);
  std::string value;
  char buffer[512];
  ssize_t n;
  while ((n = read(fd.get(), buffer, sizeof buffer)) > 0)
    value.append(buffer, static_cast<std::size_t>(n));
  if (n < 0) throw OsError(errno, where);
  while (!value.empty() && value.back() == '\n') value.pop_back();
  return value;
}

}  // namespace dogfish::lab
