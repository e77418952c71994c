#include "dogfish/lab/readiness.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/fd.hpp"
#include "dogfish/base/unix_socket.hpp"

namespace dogfish::lab {
namespace {

std::atomic<bool> stop_requested{false};

}  // namespace

void request_stop() noexcept { stop_requested = true; }

void check_stop() {
  if (stop_requested) throw Error("interrupted");
}

std::string log_tail(const std::filesystem::path& log, std::size_t lines) {
  std::ifstream in(log);
  std::vector<std::string> all;
  for (std::string l; std::getline(in, l);) all.push_back(l);
  std::string out;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    out += "    | " + all[i] + "\n";
  return out;
}

bool log_contains(const std::filesystem::path& log, std::string_view text) {
  std::ifstream in(log);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.find(text) != std::string::npos;
}

bool unix_socket_accepts(const std::filesystem::path& path) {
  return static_cast<bool>(unix_connect(path.string()));
}

bool unix_socket_answers(const std::filesystem::path& path, std::string_view request) {
  const UniqueFd fd = unix_connect(path.string());
  if (!fd) return false;
  const std::string line = std::string(request) + "\n";
  if (send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
    return false;
  // Only the first byte of the answer: that the server reached its loop is what counts.
  pollfd p{.fd = fd.get(), .events = POLLIN};
  char c = 0;
  return poll(&p, 1, 200) == 1 && recv(fd.get(), &c, 1, 0) == 1;
}

void wait_until(const std::string& what, const ProcessId& id, const std::filesystem::path& log,
                std::chrono::seconds limit, const std::function<bool()>& ready) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!ready()) {
    check_stop();
    if (!is_running(id))
      throw Error(fmt::format("{} exited; its log:\n{}", what, log_tail(log, 15)));
    if (std::chrono::steady_clock::now() >= deadline)
      throw Error(fmt::format("{} not ready after {} s; its log:\n{}", what, limit.count(),
                              log_tail(log, 15)));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace dogfish::lab
