// Waiting until what the lab starts is ready, and being told to stop waiting: a
// signal handler asks for a stop, and every wait and every step of `up` checks it.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "dogfish/lab/process.hpp"

namespace dogfish::lab {

// Async-signal-safe: sets a flag and nothing more.
void request_stop() noexcept;
// Throws Error("interrupted") once a stop was asked for.
void check_stop();

// The last `lines` lines of a log, each as "    | line\n": what a failure message quotes.
std::string log_tail(const std::filesystem::path& log, std::size_t lines);
bool log_contains(const std::filesystem::path& log, std::string_view text);
// Whether something accepts connections on that socket now (BIRD's control socket).
bool unix_socket_accepts(const std::filesystem::path& path);
// Whether a server on that socket answers a one-line request now (within 200 ms). A daemon may
// accept connections before it serves them: dogfish run listens before it attaches.
bool unix_socket_answers(const std::filesystem::path& path, std::string_view request);

// Polls ready() until it holds. Throws Error quoting the log's tail when the process
// exited or `limit` passed first, and Error("interrupted") on a stop request.
void wait_until(const std::string& what, const ProcessId& id, const std::filesystem::path& log,
                std::chrono::seconds limit, const std::function<bool()>& ready);

}  // namespace dogfish::lab
