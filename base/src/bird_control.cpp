#include "dogfish/base/bird_control.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "dogfish/base/errors.hpp"

namespace dogfish {
namespace {

bool four_digits(std::string_view s) {
  return s.size() >= 4 &&
         std::all_of(s.begin(), s.begin() + 4, [](char c) { return c >= '0' && c <= '9'; });
}

UniqueFd connect_bird(const std::string& socket) {
  UniqueFd fd = unix_connect(socket);
  if (!fd)
    throw Error(fmt::format("cannot connect to BIRD's control socket {}: {}", socket,
                            std::strerror(errno)));
  return fd;
}

}  // namespace

std::string BirdReply::text() const {
  std::string out;
  for (const BirdLine& l : lines) out += (out.empty() ? "" : "\n") + l.text;
  return out;
}

BirdLine parse_bird_line(std::string_view line, int previous, bool& last) {
  if (!line.empty() && line[0] == ' ') {
    last = false;
    return {previous, std::string(line.substr(1))};
  }
  if (four_digits(line) && (line.size() == 4 || line[4] == ' ' || line[4] == '-')) {
    last = line.size() == 4 || line[4] == ' ';
    return {std::stoi(std::string(line.substr(0, 4))),
            std::string(line.size() > 5 ? line.substr(5) : "")};
  }
  throw Error(fmt::format("not a line of BIRD's control protocol: '{}'", line));
}

BirdControl::BirdControl(std::string socket, std::chrono::milliseconds timeout)
    : socket_(std::move(socket)),
      fd_(connect_bird(socket_)),
      lines_(fd_.get(), "BIRD's control socket " + socket_) {
  set_socket_timeout(fd_.get(), timeout);
  const BirdReply hello = read_reply();
  if (hello.code() != 1)
    throw Error(fmt::format("{} did not greet as BIRD does: '{}'", socket_, hello.text()));
}

BirdReply BirdControl::read_reply() {
  BirdReply reply;
  std::string line;
  for (bool last = false; !last;) {
    if (!lines_.next(line))
      throw Error(fmt::format("BIRD closed {} in the middle of a reply", socket_));
    reply.lines.push_back(parse_bird_line(line, reply.code(), last));
  }
  return reply;
}

BirdReply BirdControl::command(std::string_view command) {
  send_all(fd_.get(), std::string(command) + "\n", "BIRD's control socket " + socket_);
  return read_reply();
}

void bird_configure(const std::string& socket) {
  const BirdReply r = BirdControl(socket).command("configure");
  if (!r.ok()) throw Error(fmt::format("BIRD on {} refused to reconfigure: {}", socket, r.text()));
}

}  // namespace dogfish
