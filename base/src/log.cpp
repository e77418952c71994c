#include "dogfish/base/log.hpp"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <string>

namespace dogfish {
namespace {

bool verbose = false;
int quiet = 0;  // live QuietLibbpf scopes
std::string program = "dogfish";

int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
  if ((level == LIBBPF_DEBUG || quiet > 0) && !verbose) return 0;
  char buffer[1024];
  int n = vsnprintf(buffer, sizeof(buffer), format, args);
  std::string text(buffer, n < 0 ? 0 : std::min<size_t>(size_t(n), sizeof(buffer) - 1));
  while (!text.empty() && text.back() == '\n') text.pop_back();
  LogLevel ours = quiet > 0              ? LogLevel::debug
                  : level == LIBBPF_WARN ? LogLevel::warn
                  : level == LIBBPF_INFO ? LogLevel::info
                                         : LogLevel::debug;
  if (!text.starts_with("libbpf: ")) text.insert(0, "libbpf: ");
  log_line(ours, text);
  return n;
}

}  // namespace

void set_log_program(std::string_view name) { program = name; }
void set_log_verbose(bool v) { verbose = v; }
bool log_verbose() { return verbose; }

void log_line(LogLevel level, std::string_view text) {
  static constexpr const char* kNames[] = {"debug", "info", "warning", "error"};
  fmt::print(stderr, "{}: {}: {}\n", program, kNames[static_cast<int>(level)], text);
  std::fflush(stderr);
}

void route_libbpf_log() { libbpf_set_print(libbpf_print); }

QuietLibbpf::QuietLibbpf() { quiet++; }
QuietLibbpf::~QuietLibbpf() { quiet--; }

}  // namespace dogfish
