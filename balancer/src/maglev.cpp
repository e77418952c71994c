#include "dogfish/maglev.hpp"

#include <dogfish/flow_hash.h>
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <numeric>
#include <tuple>
#include <utility>

#include "dogfish/base/errors.hpp"

namespace dogfish {

namespace {

// Seeds of the two permutation hashes. Changing either moves every flow of every
// balancer: they are part of the on-wire contract between balancers.
constexpr std::uint32_t kOffsetSeed = 0x6d61676cU;  // "magl"
constexpr std::uint32_t kSkipSeed = 0x65763031U;    // "ev01"

std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

std::uint64_t be64(const std::uint8_t* p) { return std::uint64_t{be32(p)} << 32 | be32(p + 4); }

// A real to sort by address: IpAddress's order (family, then bytes) as two words and
// a byte, compared without a call to memcmp.
struct ByAddress {
  std::uint64_t high;  // family, bytes 0..6
  std::uint64_t low;   // bytes 7..14
  std::uint8_t last;   // byte 15
  const MaglevReal* real;

  explicit ByAddress(const MaglevReal& r)
      : high(std::uint64_t{r.address.family} << 56 | be64(&r.address.bytes[0]) >> 8),
        low(be64(&r.address.bytes[7])),
        last(r.address.bytes[15]),
        real(&r) {}
  bool operator<(const ByAddress& o) const {
    return std::tie(high, low, last) < std::tie(o.high, o.low, o.last);
  }
  bool operator==(const ByAddress& o) const {
    return high == o.high && low == o.low && last == o.last;
  }
};

// jhash (lookup3) over the address words and the family, read big-endian so that
// the result is the same on every machine.
std::uint32_t address_hash(const IpAddress& a, std::uint32_t seed) {
  std::uint32_t x = DF_JHASH_INITVAL + seed + 20;
  std::uint32_t y = x, z = x;
  x += be32(&a.bytes[0]);
  y += be32(&a.bytes[4]);
  z += be32(&a.bytes[8]);
  DF_JHASH_MIX(x, y, z);
  x += be32(&a.bytes[12]);
  y += a.family;
  DF_JHASH_FINAL(x, y, z);
  return z;
}

// A real's walk along its permutation while the ring is filled. Strides are kept
// less the ring size, for advance().
struct Claimer {
  std::int32_t next;   // next slot of its permutation to try
  std::int32_t step;   // skip - ring_size; skip, the permutation stride, is in [1, ring_size)
  std::int32_t step2;  // (2 * skip mod ring_size) - ring_size
  std::uint32_t id;
};

// The weighted round robin: which reals take the next turns, in order. In each
// round a real of weight w takes a turn for every max_weight of credit it has
// gathered, max_weight being the largest weight of the reals still claiming;
// reals whose quota is met leave at the end of the round.
//
// Listing turns costs little next to claiming slots, once two facts are used:
// - reals of one weight gather credit alike, so credit is kept per weight: a
//   round decides once per weight who takes a turn, and a real's quota is met
//   when its weight has taken that many turns;
// - a weight's credit, if below max_weight, is back where it was after max_weight
//   rounds, in which it took `weight` turns: until a quota is met the turns repeat
//   with that period, so one period is listed and handed out again and again.
class TurnOrder {
 public:
  // The reals' weights and quotas, in address order; a real of quota 0 takes no turn.
  TurnOrder(std::span<const std::uint32_t> weights, std::span<const std::uint32_t> quotas) {
    // Weights divided by their greatest common divisor take the same turns, in shorter periods.
    std::uint32_t divisor = 0;
    for (std::size_t i = 0; i < weights.size() && divisor != 1; ++i)
      divisor = std::gcd(divisor, weights[i]);
    // Each real's weight class from an open-addressing table of (weight, class + 1),
    // twice the size of the reals: linear in the reals, however many weights they have.
    std::vector<std::uint64_t> table(std::bit_ceil(std::max<std::size_t>(2, 2 * weights.size())),
                                     0);
    const int shift = 64 - std::countr_zero(table.size());
    real_.resize(weights.size());
    std::iota(real_.begin(), real_.end(), 0U);
    for (const std::uint64_t weight : weights) {
      auto at = static_cast<std::size_t>(weight * 0x9e3779b97f4a7c15ULL >> shift);
      while (table[at] != 0 && table[at] >> 32 != weight) at = (at + 1) & (table.size() - 1);
      if (table[at] == 0) {
        classes_.push_back({.weight = static_cast<std::uint32_t>(weight / divisor)});
        table[at] = weight << 32 | classes_.size();
      }
      class_of_.push_back(static_cast<std::uint32_t>(table[at]) - 1);
    }
    quota_.assign(quotas.begin(), quotas.end());
    drop_exhausted();
  }

  // The next turns, as real indices in order: whole rounds, up to the first one in
  // which a quota is met. Valid until the next call; empty once every quota is met.
  std::span<const std::uint32_t> next() {
    if (exhausted_) drop_exhausted();
    if (real_.empty()) return {};
    // Whole periods before a quota is met. A credit can exceed max_weight once the
    // heaviest reals have left, and is then spent a turn a round: no period yet.
    std::uint64_t safe = UINT64_MAX;
    for (const WeightClass& c : classes_)
      safe = c.credit < max_weight_
                 ? std::min<std::uint64_t>(safe, (c.min_quota - c.turns - 1) / c.weight)
                 : 0;
    if (safe > 0 && period_length_ <= kMaxPeriod) {
      if (periods_listed_ == 0) list_periods();
      const std::uint64_t periods = std::min<std::uint64_t>(safe, periods_listed_);
      for (WeightClass& c : classes_) c.turns += static_cast<std::uint32_t>(periods * c.weight);
      return {turns_.data(), static_cast<std::size_t>(periods * period_length_)};
    }
    periods_listed_ = 0;
    const std::size_t count = list_rounds();
    return {turns_.data(), count};
  }

 private:
  static constexpr std::size_t kBatch = 4096;  // turns handed out at once, when reals are few
  static constexpr std::uint64_t kMaxPeriod = 16384;  // longer periods are listed round by round

  struct WeightClass {
    std::uint64_t credit = 0;  // += weight each round; a turn costs max_weight
    std::uint32_t weight;
    std::uint32_t turns = 0;      // taken by each of its reals so far
    std::uint32_t min_quota = 0;  // the smallest quota of its reals still claiming
    bool takes = false;           // in the round being listed
  };

  // Lists one round's turns at out; returns how many.
  std::size_t list_round(std::uint32_t* out) {
    bool all = true;
    for (WeightClass& c : classes_) {
      c.credit += c.weight;
      c.takes = c.credit >= max_weight_;
      c.credit -= c.takes ? max_weight_ : 0;
      all &= c.takes;
    }
    if (all) {
      std::copy(real_.begin(), real_.end(), out);
      return real_.size();
    }
    std::size_t count = 0;
    for (std::size_t i = 0; i < real_.size(); ++i) {
      out[count] = real_[i];
      count += classes_[class_of_[i]].takes;
    }
    return count;
  }

  // Lists rounds while they fit in a batch, up to the first one in which a quota is met.
  std::size_t list_rounds() {
    turns_.resize(std::max(kBatch, real_.size()));
    std::size_t count = 0;
    while (!exhausted_ && count + real_.size() <= turns_.size()) {
      count += list_round(turns_.data() + count);
      for (WeightClass& c : classes_)
        if (c.takes) exhausted_ |= ++c.turns == c.min_quota;
    }
    return count;
  }

  // Lists one period, max_weight rounds (credits end where they began), and copies of
  // it up to a batch.
  void list_periods() {
    const auto length = static_cast<std::size_t>(period_length_);
    periods_listed_ = std::max<std::size_t>(1, kBatch / length);
    turns_.resize(periods_listed_ * length);
    std::size_t count = 0;
    for (std::uint32_t round = 0; round < max_weight_; ++round)
      count += list_round(turns_.data() + count);
    for (std::size_t k = 1; k < periods_listed_; ++k)
      std::copy_n(turns_.begin(), length, turns_.begin() + k * length);
  }

  // Drops the reals whose quota is met, and weights no real has any more.
  void drop_exhausted() {
    std::size_t kept = 0;
    for (WeightClass& c : classes_) c.min_quota = UINT32_MAX;
    period_length_ = 0;
    for (std::size_t i = 0; i < real_.size(); ++i) {
      WeightClass& c = classes_[class_of_[i]];
      if (quota_[i] == c.turns) continue;
      c.min_quota = std::min(c.min_quota, quota_[i]);
      period_length_ += c.weight;
      real_[kept] = real_[i];
      class_of_[kept] = class_of_[i];
      quota_[kept++] = quota_[i];
    }
    real_.resize(kept);
    class_of_.resize(kept);
    quota_.resize(kept);
    std::vector<std::uint32_t> renumbered(classes_.size());
    std::size_t classes = 0;
    max_weight_ = 0;
    for (std::size_t k = 0; k < classes_.size(); ++k) {
      if (classes_[k].min_quota == UINT32_MAX) continue;
      max_weight_ = std::max(max_weight_, classes_[k].weight);
      renumbered[k] = static_cast<std::uint32_t>(classes);
      classes_[classes++] = classes_[k];
    }
    classes_.resize(classes);
    for (std::uint32_t& k : class_of_) k = renumbered[k];
    exhausted_ = false;
    periods_listed_ = 0;
  }

  std::vector<std::uint32_t> real_;      // the reals still claiming, in order
  std::vector<std::uint32_t> class_of_;  // each one's weight, as an index into classes_
  std::vector<std::uint32_t> quota_;     // each one's slots in all
  std::vector<WeightClass> classes_;
  std::uint32_t max_weight_ = 0;
  bool exhausted_ = false;           // a quota was met in the last round listed
  std::uint64_t period_length_ = 0;  // turns in max_weight rounds: the sum of the weights
  std::size_t periods_listed_ = 0;   // copies of the period in turns_; 0 when turns_ holds rounds
  std::vector<std::uint32_t> turns_;
};

// skip^-1 modulo the prime m, by the extended Euclidean algorithm.
std::uint32_t inverse_mod(std::uint32_t skip, std::uint32_t m) {
  std::int64_t t = 0, next_t = 1, r = m, next_r = skip;
  while (next_r != 0) {
    const std::int64_t q = r / next_r;
    t = std::exchange(next_t, t - q * next_t);
    r = std::exchange(next_r, r - q * next_r);
  }
  return static_cast<std::uint32_t>(t < 0 ? t + m : t);
}

// (pos + stride) mod m, given step = stride - m: add, and add m back if below 0.
// GCC makes it add, lea, cmovs, without a branch: one operation less than
// comparing a sum against m, in the loop where the time goes. Ring sizes are below
// 2^24, so an int32 holds every sum.
inline std::int32_t advance(std::int32_t pos, std::int32_t step, std::int32_t m) {
  const std::int32_t next = pos + step;
  return next < 0 ? next + m : next;
}

// The same with the sign as a mask: no optimizer makes a branch of it. For a real's
// next start, where -O3 made advance() a branch taken half the time, at random.
inline std::int32_t advance_masked(std::int32_t pos, std::int32_t step, std::int32_t m) {
  const std::int32_t next = pos + step;
  return next + (m & (next >> 31));
}

// Fills the ring: reals take turns in order, each claiming the first free slot
// of its permutation from `next`.
//
// While free slots are plenty, a real steps along its permutation: an 8 KiB
// bitmap (65537 slots) keeps each probe in L1, and two or four slots are tested
// before each branch. Filling a table this way costs ring_size * ln(ring_size)
// probes, most of them at the end, when a real steps ring_size / free times per
// claim. So once few slots are free, the table keeps them in a list and a real
// instead computes, for each, how many steps away on its permutation it lies,
// ((slot - next) * skip^-1) mod ring_size, and takes the nearest: the same slot, in
// `free` multiplications instead of ring_size / free probes.
class RingFiller {
 public:
  RingFiller(std::uint32_t m, std::uint32_t* ring, std::vector<Claimer> claimers)
      : m_(m),
        ring_(ring),
        taken_((m + 63) / 64, 0),
        inv_m_(1.0 / m),
        claimers_(std::move(claimers)),
        inverse_(claimers_.size(), 0),
        free_count_(m),
        dense_below_(m > kDenseBelow ? kDenseBelow : 0) {}

  void fill(TurnOrder& order) {
    for (auto turns = order.next(); !turns.empty(); turns = order.next())
      claim(turns.data(), static_cast<std::uint32_t>(turns.size()));
  }

 private:
  // Below this many free slots, computing distances beats stepping (measured: 64 to 256 alike).
  static constexpr std::uint32_t kDenseBelow = 128;

  // count turns, in order (the turns of a fill are as many as its slots).
  void claim(const std::uint32_t* turns, std::uint32_t count) {
    std::uint32_t t = 0;
    while (t < count && free_count_ > dense_below_) {
      // The turns up to the next change of stride: four slots a step while a quarter
      // to a half of the slots are free, two otherwise.
      const bool by_four = free_count_ <= m_ / 2 && free_count_ > m_ / 4;
      const std::uint32_t until = std::max(free_count_ > m_ / 2 ? m_ / 2
                                           : by_four            ? m_ / 4
                                                                : 0,
                                           dense_below_);
      const std::uint32_t n = std::min(count - t, free_count_ - until);
      if (by_four)
        claim_sparse<first_free_by_four>(turns + t, n);
      else
        claim_sparse<first_free_by_two>(turns + t, n);
      t += n;
      free_count_ -= n;
      if (free_count_ == dense_below_ && dense_below_ > 0) go_dense();
    }
    for (; t < count; ++t, --free_count_) claim_dense(turns[t]);
  }

  using FirstFree = std::int32_t (*)(const std::uint64_t* taken, const Claimer& c, std::int32_t m);

  // Each turn steps along the real's permutation to its first free slot.
  // Not inlined: its own registers keep the counters and pointers out of memory.
  //
  // The slot found is made opaque to the optimizer before it is marked taken. Else
  // GCC -O3 (partial redundancy elimination) keeps the search's last bitmap words,
  // their addresses and bit offsets live through the search loop, to mark the slot
  // without reloading: four more registers and instructions in every probe, and the
  // loop's pointers spilled to the stack. That, and advance() made a branch, cost
  // -O3 about 60 % over -O2; with both mended the two build the ring alike.
  template <FirstFree kFirstFree>
  [[gnu::noinline]] void claim_sparse(const std::uint32_t* turns, std::uint32_t count) {
    const auto m = static_cast<std::int32_t>(m_);
    std::uint32_t* const ring = ring_;
    std::uint64_t* const taken = taken_.data();
    Claimer* const claimers = claimers_.data();
    for (std::uint32_t t = 0; t < count; ++t) {
      Claimer& c = claimers[turns[t]];
      std::int32_t pos = kFirstFree(taken, c, m);
      asm("" : "+r"(pos));  // no instruction: only the optimizer's view changes
      const auto slot = static_cast<std::uint32_t>(pos);
      taken[slot >> 6] |= std::uint64_t{1} << (slot & 63);
      ring[slot] = c.id;
      c.next = advance_masked(pos, c.step, m);
    }
  }

  // The first free slot of c's permutation from c.next. Tests two consecutive
  // permutation slots per iteration without a branch between them, so that the
  // loop's one branch mispredicts less often, and with two chains of position
  // updates, each stepping 2 * skip, to halve their latency.
  [[gnu::always_inline]] static std::int32_t first_free_by_two(const std::uint64_t* taken,
                                                               const Claimer& c, std::int32_t m) {
    std::int32_t pos = c.next;
    std::int32_t second = advance(pos, c.step, m);
    for (;;) {
      const bool first_taken = is_taken(taken, pos);
      const bool second_taken = is_taken(taken, second);
      if (!(first_taken & second_taken)) return first_taken ? second : pos;
      pos = advance(pos, c.step2, m);
      second = advance(second, c.step2, m);
    }
  }

  // The same, four slots per iteration (still two chains). While a quarter to a half
  // of the slots are free, two slots in a row are both taken about half the time: the
  // loop's branch then mispredicts on most turns, four slots on fewer. Measured: ~8%
  // off the whole build; four-wide everywhere is slower than two (more slots tested
  // past the first free one, more work per slot, GCC keeping at[] in memory).
  [[gnu::always_inline]] static std::int32_t first_free_by_four(const std::uint64_t* taken,
                                                                const Claimer& c, std::int32_t m) {
    std::int32_t at[4];  // at[k]: next + k * skip, along the permutation
    at[0] = c.next;
    at[1] = advance(at[0], c.step, m);
    at[2] = advance(at[0], c.step2, m);
    at[3] = advance(at[1], c.step2, m);
    for (;;) {
      const unsigned busy =
          unsigned{is_taken(taken, at[0])} | unsigned{is_taken(taken, at[1])} << 1 |
          unsigned{is_taken(taken, at[2])} << 2 | unsigned{is_taken(taken, at[3])} << 3;
      if (busy != 0xf) return at[std::countr_one(busy)];
      at[0] = advance(at[2], c.step2, m);
      at[1] = advance(at[3], c.step2, m);
      at[2] = advance(at[0], c.step2, m);
      at[3] = advance(at[1], c.step2, m);
    }
  }

  static bool is_taken(const std::uint64_t* taken, std::int32_t pos) {
    const auto slot = static_cast<std::uint32_t>(pos);
    return (taken[slot >> 6] & std::uint64_t{1} << (slot & 63)) != 0;
  }

  void go_dense() {
    free_.reserve(free_count_);
    for (std::uint32_t word = 0; word < taken_.size(); ++word)
      for (std::uint64_t open = ~taken_[word]; open != 0; open &= open - 1) {
        const std::uint32_t pos = word * 64 + static_cast<std::uint32_t>(std::countr_zero(open));
        if (pos < m_) free_.push_back(pos);
      }
  }

  void claim_dense(std::uint32_t i) {
    Claimer& c = claimers_[i];
    const auto m = static_cast<std::int32_t>(m_);
    std::uint32_t& inverse = inverse_[i];
    if (inverse == 0) inverse = inverse_mod(static_cast<std::uint32_t>(c.step + m), m_);
    std::uint32_t best = 0, best_steps = m_;
    for (std::uint32_t j = 0; j < free_.size(); ++j) {
      const std::int64_t diff = advance(static_cast<std::int32_t>(free_[j]), -c.next, m);
      const std::uint32_t steps = mod(diff * inverse);
      if (steps < best_steps) {
        best_steps = steps;
        best = j;
      }
    }
    const std::uint32_t pos = free_[best];
    free_[best] = free_.back();
    free_.pop_back();
    ring_[pos] = c.id;
    c.next = advance(static_cast<std::int32_t>(pos), c.step, m);
  }

  // x mod m for 0 <= x < 2^48: the double quotient is off by at most one.
  std::uint32_t mod(std::int64_t x) const {
    const auto q = static_cast<std::int64_t>(static_cast<double>(x) * inv_m_);
    std::int64_t r = x - q * m_;
    r = r < 0 ? r + m_ : r;
    r = r >= m_ ? r - m_ : r;
    return static_cast<std::uint32_t>(r);
  }

  std::uint32_t m_;
  std::uint32_t* ring_;
  std::vector<std::uint64_t> taken_;
  double inv_m_;
  std::vector<Claimer> claimers_;  // by real index
  std::vector<std::uint32_t>
      inverse_;  // skip^-1 mod ring_size, once the table is dense; 0 = not yet known
  std::uint32_t free_count_;
  std::uint32_t dense_below_;
  std::vector<std::uint32_t> free_;
};

}  // namespace

bool Maglev::is_prime(std::uint32_t n) noexcept {
  if (n < 2) return false;
  for (std::uint32_t d = 2; std::uint64_t{d} * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

Maglev::Maglev(std::uint32_t ring_size) : ring_size_(ring_size) {
  if (ring_size < 3 || ring_size > kMaxRingSize || !is_prime(ring_size))
    throw Error(fmt::format("ring size {} is not a prime in [3, {}]", ring_size, kMaxRingSize));
}

std::vector<std::uint32_t> Maglev::build(std::span<const MaglevReal> reals) const {
  const std::uint32_t m = ring_size_;

  std::vector<ByAddress> sorted;
  sorted.reserve(reals.size());
  for (const auto& r : reals) {
    if (r.weight == 0) continue;
    if (r.id == DF_REAL_NONE) throw Error(fmt::format("real {} has no id", r.address.to_string()));
    sorted.emplace_back(r);
  }
  if (!std::is_sorted(sorted.begin(), sorted.end())) std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i - 1] == sorted[i])
      throw Error(fmt::format("real {} is listed twice", sorted[i].real->address.to_string()));

  std::vector<std::uint32_t> ring(m, DF_REAL_NONE);
  if (sorted.empty()) return ring;

  // Quotas by largest remainder: every real within one slot of its exact share.
  const std::uint64_t total =
      std::accumulate(sorted.begin(), sorted.end(), std::uint64_t{0},
                      [](std::uint64_t s, const ByAddress& r) { return s + r.real->weight; });
  std::vector<Claimer> claimers(sorted.size());
  std::vector<std::uint32_t> weights(sorted.size()), quotas(sorted.size());
  std::vector<std::uint64_t> remainder(sorted.size());
  std::uint64_t assigned = 0;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const MaglevReal& r = *sorted[i].real;
    const auto ring_size = static_cast<std::int32_t>(m);
    const auto skip = static_cast<std::int32_t>(address_hash(r.address, kSkipSeed) % (m - 1) + 1);
    claimers[i] = Claimer{
        .next = static_cast<std::int32_t>(address_hash(r.address, kOffsetSeed) % m),
        .step = skip - ring_size,
        .step2 = advance(skip, skip - ring_size, ring_size) - ring_size,
        .id = r.id,
    };
    const std::uint64_t exact = std::uint64_t{m} * r.weight;  // < 2^56: ring size < 2^24
    weights[i] = r.weight;
    quotas[i] = static_cast<std::uint32_t>(exact / total);
    remainder[i] = exact % total;
    assigned += quotas[i];
  }
  std::vector<std::uint32_t> order(sorted.size());
  std::iota(order.begin(), order.end(), 0U);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return remainder[a] > remainder[b]; });
  for (std::uint64_t k = 0; assigned < m; ++k, ++assigned) ++quotas[order[k]];
  TurnOrder turns(weights, quotas);
  RingFiller(m, ring.data(), std::move(claimers)).fill(turns);
  return ring;
}

}  // namespace dogfish
