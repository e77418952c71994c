// The shape of a log line by where stderr goes: the journal, a terminal, a file.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <string>

#include "dogfish/base/log.hpp"

namespace dogfish {
namespace {

TEST(LogShapeTest, PriorityIsSyslogs) {
  EXPECT_EQ(syslog_priority(LogLevel::debug), 7);
  EXPECT_EQ(syslog_priority(LogLevel::info), 6);
  EXPECT_EQ(syslog_priority(LogLevel::warn), 4);
  EXPECT_EQ(syslog_priority(LogLevel::error), 3);
}

TEST(LogShapeTest, LineHasThePartsAskedFor) {
  EXPECT_EQ(format_log_line(LogLevel::error, "no", true, false), "<3>dogfish: error: no\n");
  EXPECT_EQ(format_log_line(LogLevel::warn, "hm", false, false), "dogfish: warning: hm\n");
  const std::string stamped = format_log_line(LogLevel::info, "yes", false, true);
  EXPECT_TRUE(std::regex_match(stamped, std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} )"
                                                   R"(dogfish: info: yes\n)")))
      << stamped;
}

// Runs `body` in a child whose stderr is `fd`; the shape is chosen at the child's first line.
void in_child_with_stderr(int fd, const std::function<void()>& body) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(fd, STDERR_FILENO);
    body();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

std::string contents(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct TempFile {
  std::string path = "/tmp/dogfish-log-test-XXXXXX";
  int fd = mkstemp(path.data());
  ~TempFile() {
    close(fd);
    unlink(path.c_str());
  }
};

TEST(LogShapeTest, JournalGetsThePriorityAndNoTime) {
  TempFile f;
  ASSERT_GE(f.fd, 0);
  struct stat st {};
  ASSERT_EQ(fstat(f.fd, &st), 0);
  const std::string stream = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  in_child_with_stderr(f.fd, [&] {
    setenv("JOURNAL_STREAM", stream.c_str(), 1);
    log_warn("to the journal");
  });
  EXPECT_EQ(contents(f.path), "<4>dogfish: warning: to the journal\n");
}

TEST(LogShapeTest, FileGetsBoth) {
  TempFile f;
  ASSERT_GE(f.fd, 0);
  in_child_with_stderr(f.fd, [] {
    setenv("JOURNAL_STREAM", "1:2", 1);  // another stream's: not ours
    log_info("to a file");
  });
  const std::string line = contents(f.path);
  EXPECT_TRUE(std::regex_match(
      line, std::regex(R"(<6>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} dogfish: info: to a file\n)")))
      << line;
}

TEST(LogShapeTest, TerminalGetsTheTimeOnly) {
  const int master = posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_GE(master, 0);
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  const int tty = open(ptsname(master), O_RDWR | O_NOCTTY);
  ASSERT_GE(tty, 0);
  in_child_with_stderr(tty, [] {
    unsetenv("JOURNAL_STREAM");
    log_error("to a terminal");
  });
  close(tty);
  char buffer[256] = {};
  const ssize_t n = read(master, buffer, sizeof(buffer) - 1);
  close(master);
  ASSERT_GT(n, 0);
  const std::string line(buffer, static_cast<std::size_t>(n));
  // The terminal turns "\n" into "\r\n".
  EXPECT_TRUE(std::regex_match(
      line,
      std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} dogfish: error: to a terminal\r\n)")))
      << line;
}

}  // namespace
}  // namespace dogfish
