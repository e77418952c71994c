#include "dogfish/service_notify.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "dogfish/base/fd.hpp"
#include "dogfish/base/log.hpp"

namespace dogfish {
namespace {

// systemd's notify protocol (sd_notify(3)): one datagram of "KEY=VALUE" lines to the unix socket
// NOTIFY_SOCKET names, "@" standing for the abstract namespace. Written here rather than linked
// from libsystemd: the protocol is a stable interface, and the build needs no other library.
// Returns 0 when there is no NOTIFY_SOCKET (not a service), else 1 or -errno.
int send_notify(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return 0;
  sockaddr_un sa{};
  const std::size_t len = std::strlen(path);
  if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) return -EINVAL;
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path, len);
  if (path[0] == '@') sa.sun_path[0] = '\0';
  UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return -errno;
  const auto sa_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  if (sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&sa),
             sa_len) < 0)
    return -errno;
  return 1;
}

void notify(const std::string& state) {
  // 0: systemd is not listening (not a service); below 0: it is, and the message was lost.
  if (int err = send_notify(state); err < 0)
    log_warn("telling systemd '{}' failed: {}", state, std::strerror(-err));
}

}  // namespace

void notify_ready(std::string_view status) { notify(fmt::format("READY=1\nSTATUS={}", status)); }
void notify_reloading() { notify("RELOADING=1\nSTATUS=reloading"); }
void notify_stopping() { notify("STOPPING=1\nSTATUS=stopping; the data plane goes on serving"); }

}  // namespace dogfish
