#include "dogfish/maglev.hpp"

#include <algorithm>
#include <bit>
#include <numeric>
#include <utility>

#include <dogfish/flow_hash.h>
#include <fmt/format.h>

#include "dogfish/errors.hpp"

namespace dogfish {

namespace {

// Seeds of the two permutation hashes. Changing either moves every flow of every
// balancer: they are part of the on-wire contract between balancers.
constexpr std::uint32_t kOffsetSeed = 0x6d61676cU; // "magl"
constexpr std::uint32_t kSkipSeed = 0x65763031U; // "ev01"

std::uint32_t be32(const std::uint8_t* p)
{
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

// jhash (lookup3) over the address words and the family, read big-endian so that
// the result is the same on every machine.
std::uint32_t address_hash(const IpAddress& a, std::uint32_t seed)
{
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

// A real while the ring is filled, split in two: what a turn reads and writes,
// and what the round robin reads, so that each loop streams only its own fields.
struct Claimer {
    std::uint32_t next; // next slot of its permutation to try
    std::uint32_t skip; // permutation stride, in [1, ring_size)
    std::uint32_t skip2; // 2 * skip mod ring_size
    std::uint32_t id;
};

struct Share {
    std::uint64_t credit = 0; // += weight each round; a turn costs the largest weight still claiming
    std::uint32_t weight;
    std::uint32_t quota; // slots still to claim
    std::uint32_t inverse = 0; // skip^-1 mod ring_size, once the table is dense; 0 = not yet known
};

// Drops the reals with no slots left to claim, keeping the order of the others.
void erase_exhausted(std::vector<Claimer>& claimers, std::vector<Share>& shares)
{
    std::size_t kept = 0;
    for (std::size_t i = 0; i < shares.size(); ++i)
        if (shares[i].quota != 0) {
            claimers[kept] = claimers[i];
            shares[kept++] = shares[i];
        }
    claimers.resize(kept);
    shares.resize(kept);
}

// skip^-1 modulo the prime m, by the extended Euclidean algorithm.
std::uint32_t inverse_mod(std::uint32_t skip, std::uint32_t m)
{
    std::int64_t t = 0, next_t = 1, r = m, next_r = skip;
    while (next_r != 0) {
        const std::int64_t q = r / next_r;
        t = std::exchange(next_t, t - q * next_t);
        r = std::exchange(next_r, r - q * next_r);
    }
    return static_cast<std::uint32_t>(t < 0 ? t + m : t);
}

// (a + b) mod m for a, b < m, without a branch: sum - m wraps above sum unless sum >= m.
inline std::uint32_t add_mod(std::uint32_t a, std::uint32_t b, std::uint32_t m)
{
    const std::uint32_t sum = a + b;
    return std::min(sum, sum - m);
}

// Fills the ring: reals take turns in order, each claiming the first free slot
// of its permutation from `next`.
//
// While free slots are plenty, a real steps along its permutation: an 8 KiB
// bitmap (65537 slots) keeps each probe in L1. Filling a table this way costs
// ring_size * ln(ring_size) probes, most of them at the end, when a real steps
// ring_size / free times per claim. So once few slots are free, the table keeps
// them in a list and a real instead computes, for each, how many steps away on
// its permutation it lies, ((slot - next) * skip^-1) mod ring_size, and takes the
// nearest: the same slot, in `free` multiplications instead of ring_size / free probes.
class RingFiller {
public:
    RingFiller(std::uint32_t m, std::uint32_t* ring, std::vector<Claimer> claimers, std::vector<Share> shares)
        : m_(m), ring_(ring), taken_((m + 63) / 64, 0), inv_m_(1.0 / m), claimers_(std::move(claimers)),
          shares_(std::move(shares)), free_count_(m), dense_below_(m > kDenseBelow ? kDenseBelow : 0)
    {
    }

    void fill()
    {
        // Turns are claimed in batches of whole rounds: fewer calls per claim when reals are few.
        std::vector<std::uint32_t> turns(std::max<std::size_t>(kBatch, claimers_.size()));
        for (;;) {
            std::uint32_t max_weight = 0, min_weight = UINT32_MAX;
            for (const Share& s : shares_) {
                max_weight = std::max(max_weight, s.weight);
                min_weight = std::min(min_weight, s.weight);
            }
            const auto n = static_cast<std::uint32_t>(claimers_.size());
            if (min_weight == max_weight) {
                // Every real takes a turn in every round, so credits stay 0 and the
                // rounds up to the first quota met need no bookkeeping of their own.
                std::uint32_t rounds = UINT32_MAX;
                for (const Share& s : shares_)
                    rounds = std::min(rounds, s.quota);
                const std::uint32_t per_batch = std::min<std::uint32_t>(rounds, turns.size() / n);
                for (std::uint32_t r = 0; r < per_batch; ++r)
                    std::iota(turns.begin() + r * n, turns.begin() + (r + 1) * n, 0U);
                for (std::uint32_t done = 0; done < rounds;) {
                    const std::uint32_t batch = std::min(per_batch, rounds - done);
                    if (claim(turns.data(), batch * n))
                        return;
                    done += batch;
                }
                for (Share& s : shares_)
                    s.quota -= rounds;
            } else {
                std::uint32_t count = 0;
                bool exhausted = false;
                while (!exhausted && count + n <= turns.size())
                    count = weighted_turns(max_weight, turns.data(), count, exhausted);
                if (claim(turns.data(), count))
                    return;
            }
            // Reals whose quota is met leave the turn order; the heaviest of those left sets the turn cost.
            erase_exhausted(claimers_, shares_);
        }
    }

private:
    // Below this many free slots, computing distances beats stepping (measured: 64 to 256 alike).
    static constexpr std::uint32_t kDenseBelow = 128;
    static constexpr std::size_t kBatch = 4096;

    // Appends one round's turns to turns[count...], without a branch per real: a real
    // of weight w takes one for every max_weight of credit. Counts the turns against
    // the quotas; returns the new count.
    std::uint32_t weighted_turns(std::uint32_t max_weight, std::uint32_t* turns, std::uint32_t count,
                                 bool& exhausted)
    {
        for (std::uint32_t i = 0; i < shares_.size(); ++i) {
            Share& s = shares_[i];
            const std::uint64_t credit = s.credit + s.weight;
            const bool turn = credit >= max_weight;
            s.credit = turn ? credit - max_weight : credit;
            s.quota -= turn;
            exhausted |= s.quota == 0;
            turns[count] = i;
            count += turn;
        }
        return count;
    }

    // count turns, in order; true once the ring is full.
    bool claim(const std::uint32_t* turns, std::uint32_t count)
    {
        std::uint32_t t = 0;
        if (free_count_ > dense_below_) {
            t = std::min(count, free_count_ - dense_below_);
            claim_sparse(turns, t);
            free_count_ -= t;
            if (free_count_ == 0)
                return true;
            if (free_count_ == dense_below_)
                go_dense();
        }
        for (; t < count; ++t) {
            claim_dense(turns[t]);
            if (--free_count_ == 0)
                return true;
        }
        return false;
    }

    // Each turn steps along the real's permutation to its first free slot. Tests
    // two consecutive permutation slots per iteration without a branch between
    // them, so that the loop's one branch mispredicts less often, and with two
    // chains of position updates, each stepping 2 * skip, to halve their latency.
    // Not inlined: its own registers keep the counters and pointers out of memory.
    [[gnu::noinline]] void claim_sparse(const std::uint32_t* turns, std::uint32_t count)
    {
        const std::uint32_t m = m_;
        std::uint32_t* const ring = ring_;
        std::uint64_t* const taken = taken_.data();
        Claimer* const claimers = claimers_.data();
        for (std::uint32_t t = 0; t < count; ++t) {
            Claimer& c = claimers[turns[t]];
            std::uint32_t pos = c.next;
            std::uint32_t second = add_mod(pos, c.skip, m);
            for (;;) {
                const bool first_taken = is_taken(taken, pos);
                const bool second_taken = is_taken(taken, second);
                if (!(first_taken & second_taken)) {
                    pos = first_taken ? second : pos;
                    break;
                }
                pos = add_mod(pos, c.skip2, m);
                second = add_mod(second, c.skip2, m);
            }
            taken[pos >> 6] |= std::uint64_t{1} << (pos & 63);
            ring[pos] = c.id;
            c.next = add_mod(pos, c.skip, m);
        }
    }

    static bool is_taken(const std::uint64_t* taken, std::uint32_t pos)
    {
        return (taken[pos >> 6] & std::uint64_t{1} << (pos & 63)) != 0;
    }

    void go_dense()
    {
        free_.reserve(free_count_);
        for (std::uint32_t word = 0; word < taken_.size(); ++word)
            for (std::uint64_t open = ~taken_[word]; open != 0; open &= open - 1) {
                const std::uint32_t pos = word * 64 + static_cast<std::uint32_t>(std::countr_zero(open));
                if (pos < m_)
                    free_.push_back(pos);
            }
    }

    void claim_dense(std::uint32_t i)
    {
        Claimer& c = claimers_[i];
        Share& s = shares_[i];
        if (s.inverse == 0)
            s.inverse = inverse_mod(c.skip, m_);
        std::uint32_t best = 0, best_steps = m_;
        for (std::uint32_t j = 0; j < free_.size(); ++j) {
            const std::uint32_t slot = free_[j];
            const std::uint64_t diff = slot >= c.next ? slot - c.next : slot + m_ - c.next;
            const std::uint32_t steps = mod(diff * s.inverse);
            if (steps < best_steps) {
                best_steps = steps;
                best = j;
            }
        }
        const std::uint32_t pos = free_[best];
        free_[best] = free_.back();
        free_.pop_back();
        ring_[pos] = c.id;
        c.next = add_mod(pos, c.skip, m_);
    }

    // x mod m for x < 2^48: the double quotient is off by at most one.
    std::uint32_t mod(std::uint64_t x) const
    {
        const auto q = static_cast<std::uint64_t>(static_cast<double>(x) * inv_m_);
        auto r = static_cast<std::int64_t>(x - q * m_);
        r = r < 0 ? r + m_ : r;
        r = r >= m_ ? r - m_ : r;
        return static_cast<std::uint32_t>(r);
    }

    std::uint32_t m_;
    std::uint32_t* ring_;
    std::vector<std::uint64_t> taken_;
    double inv_m_;
    std::vector<Claimer> claimers_;
    std::vector<Share> shares_;
    std::uint32_t free_count_;
    std::uint32_t dense_below_;
    std::vector<std::uint32_t> free_;
};

} // namespace

bool Maglev::is_prime(std::uint32_t n) noexcept
{
    if (n < 2)
        return false;
    for (std::uint32_t d = 2; std::uint64_t{d} * d <= n; ++d)
        if (n % d == 0)
            return false;
    return true;
}

Maglev::Maglev(std::uint32_t ring_size) : ring_size_(ring_size)
{
    if (ring_size < 3 || ring_size > kMaxRingSize || !is_prime(ring_size))
        throw Error(fmt::format("ring size {} is not a prime in [3, {}]", ring_size, kMaxRingSize));
}

std::vector<std::uint32_t> Maglev::build(std::span<const MaglevReal> reals) const
{
    const std::uint32_t m = ring_size_;

    std::vector<const MaglevReal*> sorted;
    sorted.reserve(reals.size());
    for (const auto& r : reals) {
        if (r.weight == 0)
            continue;
        if (r.id == DF_REAL_NONE)
            throw Error(fmt::format("real {} has no id", r.address.to_string()));
        sorted.push_back(&r);
    }
    std::sort(sorted.begin(), sorted.end(),
              [](const MaglevReal* a, const MaglevReal* b) { return a->address < b->address; });
    for (std::size_t i = 1; i < sorted.size(); ++i)
        if (sorted[i - 1]->address == sorted[i]->address)
            throw Error(fmt::format("real {} is listed twice", sorted[i]->address.to_string()));

    std::vector<std::uint32_t> ring(m, DF_REAL_NONE);
    if (sorted.empty())
        return ring;

    // Quotas by largest remainder: every real within one slot of its exact share.
    const std::uint64_t total = std::accumulate(sorted.begin(), sorted.end(), std::uint64_t{0},
                                                [](std::uint64_t s, const MaglevReal* r) { return s + r->weight; });
    std::vector<Claimer> claimers(sorted.size());
    std::vector<Share> shares(sorted.size());
    std::vector<std::uint64_t> remainder(sorted.size());
    std::uint64_t assigned = 0;
    for (std::size_t i = 0; i < sorted.size(); ++i) {
        const MaglevReal& r = *sorted[i];
        const std::uint32_t skip = address_hash(r.address, kSkipSeed) % (m - 1) + 1;
        claimers[i] = Claimer{
            .next = address_hash(r.address, kOffsetSeed) % m,
            .skip = skip,
            .skip2 = add_mod(skip, skip, m),
            .id = r.id,
        };
        const std::uint64_t exact = std::uint64_t{m} * r.weight; // < 2^56: ring size < 2^24
        shares[i] = Share{.weight = r.weight, .quota = static_cast<std::uint32_t>(exact / total)};
        remainder[i] = exact % total;
        assigned += shares[i].quota;
    }
    std::vector<std::uint32_t> order(sorted.size());
    std::iota(order.begin(), order.end(), 0U);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return remainder[a] > remainder[b]; });
    for (std::uint64_t k = 0; assigned < m; ++k, ++assigned)
        ++shares[order[k]].quota;
    erase_exhausted(claimers, shares); // a real whose quota rounds to 0 takes no turn at all
    RingFiller(m, ring.data(), std::move(claimers), std::move(shares)).fill();
    return ring;
}

} // namespace dogfish
