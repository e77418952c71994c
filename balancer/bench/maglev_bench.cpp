// Maglev ring building for 10, 100 and 1,000 reals at the default ring size.
#include <benchmark/benchmark.h>

#include "dogfish/maglev.hpp"

namespace {

std::vector<dogfish::MaglevReal> make_reals(int n, bool weighted)
{
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

void BM_BuildRing(benchmark::State& state)
{
    const auto reals = make_reals(static_cast<int>(state.range(0)), false);
    const dogfish::Maglev maglev;
    for (auto _ : state)
        benchmark::DoNotOptimize(maglev.build(reals));
}
BENCHMARK(BM_BuildRing)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_BuildRingWeighted(benchmark::State& state)
{
    const auto reals = make_reals(static_cast<int>(state.range(0)), true);
    const dogfish::Maglev maglev;
    for (auto _ : state)
        benchmark::DoNotOptimize(maglev.build(reals));
}
BENCHMARK(BM_BuildRingWeighted)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
