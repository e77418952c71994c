#include "dogfish/lab/process.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/fd.hpp"
#include "dogfish/lab/netns.hpp"

namespace dogfish::lab {
namespace {

// What the child reports back when it cannot get as far as exec.
struct ChildFailure {
  int code;
  char where[64];
};

[[noreturn]] void child_fail(int fd, int code, const char* where) {
  ChildFailure f{code, {}};
  std::strncpy(f.where, where, sizeof f.where - 1);
  (void)!write(fd, &f, sizeof f);
  _exit(127);
}

// In the forked child: enter the namespace, wire up stdio, exec. Never returns.
[[noreturn]] void exec_child(const std::string& netns, const std::vector<std::string>& argv,
                             const std::filesystem::path& log, int report_fd) {
  try {
    enter_netns(netns);
  } catch (const std::exception&) {
    child_fail(report_fd, errno ? errno : EINVAL, "enter network namespace");
  }
  const int in = open("/dev/null", O_RDONLY);
  if (in < 0 || dup2(in, STDIN_FILENO) < 0) child_fail(report_fd, errno, "open /dev/null");
  if (!log.empty()) {
    const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0)
      child_fail(report_fd, errno, "open the log");
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  child_fail(report_fd, errno, "exec");
}

std::string describe(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// Reads the child's report: nothing (EOF at exec) means it is running argv.
void check_report(const UniqueFd& fd, const std::string& netns,
                  const std::vector<std::string>& argv) {
  ChildFailure f{};
  ssize_t n;
  do n = read(fd.get(), &f, sizeof f);
  while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof f))
    throw OsError(
        f.code, fmt::format("{} for '{}' in network namespace {}", f.where, describe(argv), netns));
}

struct Pipe {
  UniqueFd read, write;
};

Pipe make_pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw OsError(errno, "pipe");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace

ProcessId spawn_in_netns(const std::string& netns, const std::vector<std::string>& argv,
                         const std::filesystem::path& log,
                         const std::function<void(const ProcessId&)>& record) {
  // Double fork: the daemon is reparented at once, so it is never left a zombie
  // of ours and outlives `dogfish-lab up` without a parent to wait for it. It waits for
  // a byte on `go` before it does anything: we write it once `record` has noted the pid,
  // and if we die first the pipe closes and it exits unseen.
  Pipe report = make_pipe(), pid_pipe = make_pipe(), go = make_pipe();
  const pid_t child = fork();
  if (child < 0) throw OsError(errno, "fork");
  if (child == 0) {
    report.read.reset();
    pid_pipe.read.reset();
    go.write.reset();
    setsid();
    const pid_t grandchild = fork();
    if (grandchild == 0) {
      pid_pipe.write.reset();
      char byte;
      ssize_t n;
      do n = read(go.read.get(), &byte, 1);
      while (n < 0 && errno == EINTR);
      if (n != 1) _exit(126);  // not recorded: never run
      go.read.reset();
      exec_child(netns, argv, log, report.write.get());
    }
    (void)!write(pid_pipe.write.get(), &grandchild, sizeof grandchild);
    _exit(grandchild < 0 ? 1 : 0);
  }
  report.write.reset();
  pid_pipe.write.reset();
  go.read.reset();
  pid_t pid = -1;
  ssize_t n;
  do n = read(pid_pipe.read.get(), &pid, sizeof pid);
  while (n < 0 && errno == EINTR);
  waitpid(child, nullptr, 0);
  if (n != static_cast<ssize_t>(sizeof pid) || pid < 0)
    throw Error(fmt::format("could not start '{}' in network namespace {}", describe(argv), netns));
  const ProcessId id{pid, process_start_time(pid)};
  record(id);  // on a throw, `go` closes and the process exits without running
  if (write(go.write.get(), "g", 1) != 1) throw OsError(errno, "starting " + describe(argv));
  go.write.reset();
  check_report(report.read, netns, argv);
  return id;
}

int run_in_netns(const std::string& netns, const std::vector<std::string>& argv,
                 const std::filesystem::path& log) {
  Pipe report = make_pipe();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw OsError(errno, "fork");
  if (pid == 0) {
    report.read.reset();
    // It does its work for us: it dies with us, so a killed `up` leaves it no time to
    // make what nobody would record.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    exec_child(netns, argv, log, report.write.get());
  }
  report.write.reset();
  int status = 0;
  try {
    check_report(report.read, netns, argv);
  } catch (...) {
    waitpid(pid, &status, 0);
    throw;
  }
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::uint64_t process_start_time(int pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat;
  if (pid <= 0 || !std::getline(in, stat)) return 0;
  // The command name may hold spaces and parentheses: fields count from the last ')'.
  const auto close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close_paren + 2));
  std::string state, field;
  fields >> state;
  if (state == "Z" || state == "X") return 0;
  // state is field 3; starttime is field 22.
  for (int i = 4; i < 22 && fields >> field; ++i) {
  }
  std::uint64_t start = 0;
  fields >> start;
  return start;
}

bool is_running(const ProcessId& id) {
  return id.pid > 0 && process_start_time(id.pid) == id.start_time && id.start_time != 0;
}

bool stop_process(const ProcessId& id, std::chrono::milliseconds grace) {
  return stop_processes({id}, grace) == 1;
}

std::size_t stop_processes(const std::vector<ProcessId>& ids, std::chrono::milliseconds grace) {
  std::vector<ProcessId> running;
  for (const ProcessId& id : ids)
    if (is_running(id)) {
      kill(id.pid, SIGTERM);
      running.push_back(id);
    }
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (const ProcessId& id : running)
    while (is_running(id)) {
      if (std::chrono::steady_clock::now() >= deadline) {
        kill_process(id);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  return running.size();
}

bool kill_process(const ProcessId& id) {
  if (!is_running(id)) return false;
  kill(id.pid, SIGKILL);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (is_running(id) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return true;
}

}  // namespace dogfish::lab
