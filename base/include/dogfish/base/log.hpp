// The project's logging: one line per event on stderr, "PROGRAM: LEVEL: text"; debug lines only
// when verbose. libbpf's own log is routed here too. Where stderr goes shapes the line: to the
// journal (systemd's JOURNAL_STREAM names stderr) it starts with the syslog priority systemd
// reads ("<6>dogfish: info: ..."); on a terminal with the local time ("2025-01-31 12:00:00.123
// dogfish: info: ..."); into a file or a pipe with both.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace dogfish {

enum class LogLevel { debug, info, warn, error };

// The name each line starts with ("dogfish" unless a program says otherwise).
void set_log_program(std::string_view name);
void set_log_verbose(bool verbose);
bool log_verbose();
void log_line(LogLevel level, std::string_view text);

// The pieces of a line, for tests: syslog's priority of a level (debug 7 ... error 3), and a
// whole line with or without the "<N>" prefix and the time.
int syslog_priority(LogLevel level);
std::string format_log_line(LogLevel level, std::string_view text, bool priority, bool timestamp);

// Sends libbpf's messages through log_line (its debug lines only when verbose).
void route_libbpf_log();

// While one lives, libbpf's warnings are debug lines: for probes whose failure is
// an expected answer (no clsact qdisc yet, no filter), not news.
class QuietLibbpf {
 public:
  QuietLibbpf();
  ~QuietLibbpf();
  QuietLibbpf(const QuietLibbpf&) = delete;
  QuietLibbpf& operator=(const QuietLibbpf&) = delete;
};

template <typename... A>
void log_debug(fmt::format_string<A...> f, A&&... a) {
  if (log_verbose()) log_line(LogLevel::debug, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void log_info(fmt::format_string<A...> f, A&&... a) {
  log_line(LogLevel::info, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void log_warn(fmt::format_string<A...> f, A&&... a) {
  log_line(LogLevel::warn, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void log_error(fmt::format_string<A...> f, A&&... a) {
  log_line(LogLevel::error, fmt::format(f, std::forward<A>(a)...));
}

}  // namespace dogfish
