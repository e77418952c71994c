#include "target.hpp"

#include <bpf/bpf.h>
#include <fmt/core.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <vector>

namespace dogfish::bench {

uint64_t map_memlock(int map_fd) {
  std::ifstream in(fmt::format("/proc/self/fdinfo/{}", map_fd));
  std::string key;
  uint64_t value = 0;
  while (in >> key)
    if (key == "memlock:" && in >> value) return value;
  return 0;
}

size_t map_entries(int map_fd) {
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(map_fd, &info, &len) != 0) return 0;
  // In batches: a walk key by key of an 8M-entry table takes seconds.
  constexpr uint32_t kBatch = 65536;
  std::vector<uint8_t> keys(size_t(kBatch) * info.key_size),
      values(size_t(kBatch) * info.value_size);
  uint64_t in = 0, out = 0;
  size_t n = 0;
  for (bool first = true;; first = false) {
    uint32_t count = kBatch;
    int err = bpf_map_lookup_batch(map_fd, first ? nullptr : &in, &out, keys.data(), values.data(),
                                   &count, nullptr);
    if (err && errno != ENOENT) return n;
    n += count;
    if (err) return n;
    in = out;
  }
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
