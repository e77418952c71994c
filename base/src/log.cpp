#include "dogfish/base/log.hpp"

#include <bpf/libbpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string>

namespace dogfish {
namespace {

bool verbose = false;
int quiet = 0;  // live QuietLibbpf scopes
std::string program = "dogfish";
std::mutex emit;  // whole lines, also from the metrics server's threads

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

// True when stderr is the stream systemd handed the service: JOURNAL_STREAM is "DEV:INODE" of it.
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  struct stat st {};
  if (!stream || fstat(STDERR_FILENO, &st) != 0) return false;
  unsigned long long dev = 0, ino = 0;
  return std::sscanf(stream, "%llu:%llu", &dev, &ino) == 2 && dev == st.st_dev && ino == st.st_ino;
}

// What stderr is decides each line's shape: the journal reads a "<N>" syslog priority and
// stamps the time itself; a terminal gets the time; a file or a pipe both (no one else keeps
// either there).
struct Shape {
  bool priority, timestamp;
};
Shape shape_of_stderr() {
  if (stderr_is_journal()) return {.priority = true, .timestamp = false};
  if (isatty(STDERR_FILENO)) return {.priority = false, .timestamp = true};
  return {.priority = true, .timestamp = true};
}

std::string now_text() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t secs = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  localtime_r(&secs, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%F %T", &tm);
  return fmt::format("{}.{:03} ", text, ms);
}

}  // namespace

void set_log_program(std::string_view name) { program = name; }
void set_log_verbose(bool v) { verbose = v; }
bool log_verbose() { return verbose; }

int syslog_priority(LogLevel level) {
  switch (level) {
    case LogLevel::debug:
      return 7;
    case LogLevel::info:
      return 6;
    case LogLevel::warn:
      return 4;
    case LogLevel::error:
      return 3;
  }
  return 6;
}

std::string format_log_line(LogLevel level, std::string_view text, bool priority, bool timestamp) {
  static constexpr const char* kNames[] = {"debug", "info", "warning", "error"};
  return fmt::format("{}{}{}: {}: {}\n",
                     priority ? fmt::format("<{}>", syslog_priority(level)) : "",
                     timestamp ? now_text() : "", program, kNames[static_cast<int>(level)], text);
}

void log_line(LogLevel level, std::string_view text) {
  static const Shape shape = shape_of_stderr();
  const std::string line = format_log_line(level, text, shape.priority, shape.timestamp);
  std::lock_guard lock(emit);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

void route_libbpf_log() { libbpf_set_print(libbpf_print); }

QuietLibbpf::QuietLibbpf() { quiet++; }
QuietLibbpf::~QuietLibbpf() { quiet--; }

}  // namespace dogfish
