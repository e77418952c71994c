// Maglev ring building for 10, 100 and 1,000 reals at the default ring size.
#include <benchmark/benchmark.h>

#include "dogfish/maglev.hpp"

namespace {

std::vector<dogfish::MaglevReal> make_reals(int n, bool weighted) {
  std::vector<dogfish::MaglevReal> reals;
  for (int i = 0; i < n; ++i) {
    dogfish::IpAddress a;
    a.family = DF_FAMILY_V4;
    a.bytes[0] = 10;
    a.bytes[1] = static_cast<std::uint8_t>(i >> 16);
    a.bytes[2] = static_cast<std::uint8_t>(i >> 8);
    a.bytes[3] = static_cast<std::uint8_t>(i);
    reals.push_back({.address = a,
                     .weight = weighted ? static_cast<std::uint32_t>(1 + i % 10) : 1U,
                     .id = static_cast<std::uint32_t>(i + 1)});
  }
  return reals;
}

void BM_BuildRing(benchmark::State& state) {
  const auto reals = make_reals(static_cast<int>(state.range(0)), false);
  const dogfish::Maglev maglev;
  for (auto _ : state) benchmark::DoNotOptimize(maglev.build(reals));
}
BENCHMARK(BM_BuildRing)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_BuildRingWeighted(benchmark::State& state) {
  const auto reals = make_reals(static_cast<int>(state.range(0)), true);
  const dogfish::Maglev maglev;
  for (auto _ : state) benchmark::DoNotOptimize(maglev.build(reals));
}
BENCHMARK(BM_BuildRingWeighted)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

// The paper's table population as usually written (and as Katran writes it): the
// slot from (offset + next * skip) % size at every probe, -1 for an empty slot.
// Not dogfish's placement (other hashes, no weights): a yardstick measured in the
// same run, since this machine is shared and absolute timings drift.
std::vector<std::int32_t> textbook_ring(std::size_t n, std::uint32_t size) {
  std::vector<std::uint32_t> offset(n), skip(n), next(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t h = (i + 1) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
    offset[i] = static_cast<std::uint32_t>(h % size);
    skip[i] = static_cast<std::uint32_t>((h >> 32) % (size - 1) + 1);
  }
  std::vector<std::int32_t> ring(size, -1);
  std::uint32_t filled = 0;
  for (;;) {
    for (std::size_t i = 0; i < n; ++i) {
      std::uint32_t slot =
          static_cast<std::uint32_t>((offset[i] + std::uint64_t{next[i]} * skip[i]) % size);
      while (ring[slot] >= 0) {
        ++next[i];
        slot = static_cast<std::uint32_t>((offset[i] + std::uint64_t{next[i]} * skip[i]) % size);
      }
      ring[slot] = static_cast<std::int32_t>(i);
      ++next[i];
      if (++filled == size) return ring;
    }
  }
}

void BM_TextbookRing(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(
        textbook_ring(static_cast<std::size_t>(state.range(0)), DF_DEFAULT_RING_SIZE));
}
BENCHMARK(BM_TextbookRing)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace

// BENCHMARK_MAIN, with what the ring builder was compiled with in the context lines:
// timings are comparable only between builds of one type and flags.
int main(int argc, char** argv) {
  benchmark::AddCustomContext("build_type", DF_BUILD_TYPE);
  benchmark::AddCustomContext("compiler", DF_BUILD_CXX);
  benchmark::AddCustomContext("cxx_flags", DF_BUILD_CXX_FLAGS);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
