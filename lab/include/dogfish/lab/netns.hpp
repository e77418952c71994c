// Named network namespaces as `ip netns` keeps them (/run/netns/NAME), and running
// code inside one without moving the calling thread.
//
// Wherever a namespace name is taken, "" means the caller's own network namespace.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "dogfish/base/fd.hpp"

namespace dogfish::lab {

// Where `ip netns` and this library keep the namespaces' mount points.
inline constexpr const char* netns_run_dir = "/run/netns";

// "/run/netns/NAME"; throws Error for a name `ip netns` would refuse ("", ".", "..", "/").
std::string netns_path(const std::string& name);

// Creates /run/netns/NAME exactly as `ip netns add` does (make /run/netns a shared
// mount point like iproute2 does, create the file, unshare(CLONE_NEWNET) in a child
// thread, bind-mount its namespace onto the file). Throws Error
// "network namespace 'NAME' already exists" when it does; leaves nothing on failure.
void create_netns(const std::string& name);
// umount2(MNT_DETACH) + unlink; returns false (and does nothing) when absent. The namespace
// itself lives on while a process or an open fd is still in it.
bool delete_netns(const std::string& name);
bool netns_exists(const std::string& name);
std::vector<std::string> list_netns();  // names under /run/netns, sorted
// The processes whose network namespace is `name` (none when it is gone).
std::vector<int> pids_in_netns(const std::string& name);

// An open fd of /run/netns/NAME; throws OsError naming the namespace.
class NetnsFd {
 public:
  explicit NetnsFd(const std::string& name);

  int get() const noexcept { return fd_.get(); }
  const std::string& name() const noexcept { return name_; }

 private:
  UniqueFd fd_;
  std::string name_;
};

// setns(CLONE_NEWNET) of the calling thread into `ns`; throws OsError naming it.
void enter_netns(const NetnsFd& ns);
// Enters the namespace in the calling thread for good (for a forked child before exec).
void enter_netns(const std::string& name);

// Runs fn on a new std::thread that has setns(CLONE_NEWNET) into the namespace, joins it,
// returns fn's result or rethrows fn's exception. The calling thread's namespace is untouched.
// Sockets fn opens stay bound to the namespace after it returns: that is how a caller gets
// a socket "in" a namespace. "" runs fn on the calling thread.
template <typename F>
auto in_netns(const std::string& name, F&& fn) -> decltype(fn()) {
  using Result = decltype(fn());
  static_assert(!std::is_reference_v<Result>,
                "in_netns returns by value: fn must not return a reference");
  if (name.empty()) return fn();

  NetnsFd ns(name);
  std::exception_ptr error;
  std::conditional_t<std::is_void_v<Result>, bool, std::optional<Result>> result{};
  std::thread([&] {
    try {
      enter_netns(ns);
      if constexpr (std::is_void_v<Result>)
        fn();
      else
        result.emplace(fn());
    } catch (...) {
      error = std::current_exception();
    }
  }).join();
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<Result>) return std::move(*result);
}

// Writes a sysctl inside the namespace: "net/ipv4/ip_forward" (or "net.ipv4.ip_forward",
// like sysctl(8): dots become slashes when the key has no slash). Throws OsError naming
// the key, namespace and value.
void set_sysctl(const std::string& netns, const std::string& key, const std::string& value);
// The value without its trailing newline.
std::string read_sysctl(const std::string& netns, const std::string& key);

// "network namespace 'NAME'", or "the current network namespace" for "": for messages.
std::string describe_netns(const std::string& name);

}  // namespace dogfish::lab
