#include "target.hpp"

#include <fmt/core.h>

#include <fstream>
#include <string>

namespace dogfish::bench {

uint64_t map_memlock(int map_fd) {
  std::ifstream in(fmt::format("/proc/self/fdinfo/{}", map_fd));
  std::string key;
  uint64_t value = 0;
  while (in >> key)
    if (key == "memlock:" && in >> value) return value;
  return 0;
}

std::string verify_counts(const Target& t, PathKind kind, const Counts& before, const Counts& after,
                          uint64_t n) {
  const std::vector<std::string> names = t.counter_names();
  const std::vector<int64_t> per = t.expect(kind);
  std::string bad;
  for (size_t i = 0; i < names.size(); i++) {
    if (per.at(i) == kAny) continue;
    const uint64_t got = after.at(i) - before.at(i), want = uint64_t(per[i]) * n;
    if (got != want) bad += fmt::format(" {}={} (want {})", names[i], got, want);
  }
  return bad;
}

}  // namespace dogfish::bench
