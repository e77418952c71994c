// BIRD's control socket, as birdc speaks it: BIRD greets with "0001 BIRD x.y ready.", then
// answers each command with lines "CODE-text" (more follow), " text" (the same code goes on)
// and a last "CODE text". Codes 0xxx are done, 1xxx table rows, 2xxx table headings, 8xxx
// run-time errors, 9xxx parse errors. The balancer asks BIRD to re-read its configuration
// through it; the lab reads its BGP sessions' states.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "dogfish/base/fd.hpp"
#include "dogfish/base/unix_socket.hpp"

namespace dogfish {

struct BirdLine {
  int code = 0;
  std::string text;
};

struct BirdReply {
  std::vector<BirdLine> lines;  // the last one's code is the reply's
  int code() const { return lines.empty() ? 0 : lines.back().code; }
  bool ok() const { return code() < 8000; }
  std::string text() const;  // every line's text, one a line
};

// Parses one line of a reply; `previous` is the code a continuation line (" text") goes on
// with. Throws Error for a line of neither shape. `last` says whether the reply ends with it.
BirdLine parse_bird_line(std::string_view line, int previous, bool& last);

class BirdControl {
 public:
  // Connects and reads the greeting. Throws Error naming the socket.
  explicit BirdControl(std::string socket,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Sends one command ("configure", "show protocols"), returns the whole reply.
  BirdReply command(std::string_view command);

 private:
  BirdReply read_reply();

  std::string socket_;
  UniqueFd fd_;
  LineReader lines_;
};

// Asks the BIRD on `socket` to re-read its configuration file. Throws Error with BIRD's own
// words when it refuses (a parse error names file and line).
void bird_configure(const std::string& socket);

}  // namespace dogfish
