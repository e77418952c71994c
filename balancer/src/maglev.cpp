#include "dogfish/maglev.hpp"

#include <algorithm>
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

// One weighted real while the ring is filled: where its permutation stands and
// how many slots it may still claim.
struct Walker {
    std::uint32_t next; // next slot of its permutation to try
    std::uint32_t skip; // permutation stride, in [1, ring_size)
    std::uint32_t quota; // slots still to claim
    std::uint32_t weight;
    std::uint32_t id;
    std::uint64_t credit; // += weight each round; a turn costs the largest weight still claiming
    std::uint32_t inverse = 0; // skip^-1 mod ring_size, once the table is dense; 0 = not yet known
};

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

// Which slots are claimed, and for a walker the first free slot on its permutation.
//
// While free slots are plenty, a walker steps along its permutation: an 8 KiB
// bitmap (65537 slots) keeps each probe in L1. Filling a table this way costs
// ring_size * ln(ring_size) probes, most of them at the end, when a walker steps
// ring_size / free times per claim. So once few slots are free, the table keeps
// them in a list and a walker instead computes, for each, how many steps away on
// its permutation it lies, ((slot - next) * skip^-1) mod ring_size, and takes the
// nearest: the same slot, in `free` multiplications instead of ring_size / free probes.
class SlotTable {
public:
    explicit SlotTable(std::uint32_t m) : m_(m), free_count_(m), taken_((m + 63) / 64, 0), inv_m_(1.0 / m) {}

    std::uint32_t claim(Walker& w)
    {
        const std::uint32_t pos = dense_ ? claim_dense(w) : claim_sparse(w);
        if (--free_count_ == kDenseBelow && !dense_)
            go_dense();
        return pos;
    }

private:
    // Below this many free slots, computing distances beats stepping (measured: 64 to 256 alike).
    static constexpr std::uint32_t kDenseBelow = 128;

    bool is_taken(std::uint32_t pos) const { return taken_[pos >> 6] >> (pos & 63) & 1; }

    std::uint32_t add_mod(std::uint32_t a, std::uint32_t b) const
    {
        const std::uint32_t sum = a + b;
        return sum >= m_ ? sum - m_ : sum;
    }

    // Tests two consecutive permutation slots per iteration without a branch
    // between them, so that the loop's one branch mispredicts less often, and
    // halves the chain of dependent position updates.
    std::uint32_t claim_sparse(const Walker& w)
    {
        const std::uint32_t skip2 = add_mod(w.skip, w.skip);
        std::uint32_t pos = w.next;
        for (;;) {
            const std::uint32_t second = add_mod(pos, w.skip);
            const unsigned first_free = !is_taken(pos);
            const unsigned second_free = !is_taken(second);
            if (first_free | second_free) {
                pos = first_free ? pos : second;
                break;
            }
            pos = add_mod(pos, skip2);
        }
        taken_[pos >> 6] |= std::uint64_t{1} << (pos & 63);
        return pos;
    }

    void go_dense()
    {
        dense_ = true;
        free_.reserve(free_count_);
        for (std::uint32_t pos = 0; pos < m_; ++pos)
            if (!is_taken(pos))
                free_.push_back(pos);
    }

    std::uint32_t claim_dense(Walker& w)
    {
        if (w.inverse == 0)
            w.inverse = inverse_mod(w.skip, m_);
        std::uint32_t best = 0, best_steps = m_;
        for (std::uint32_t j = 0; j < free_.size(); ++j) {
            const std::uint32_t s = free_[j];
            const std::uint64_t diff = s >= w.next ? s - w.next : s + m_ - w.next;
            const std::uint32_t steps = mod(diff * w.inverse);
            if (steps < best_steps) {
                best_steps = steps;
                best = j;
            }
        }
        const std::uint32_t pos = free_[best];
        free_[best] = free_.back();
        free_.pop_back();
        return pos;
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
    std::uint32_t free_count_;
    std::vector<std::uint64_t> taken_;
    double inv_m_;
    bool dense_ = false;
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
    std::vector<Walker> walkers(sorted.size());
    std::vector<std::uint64_t> remainder(sorted.size());
    std::uint64_t assigned = 0;
    for (std::size_t i = 0; i < sorted.size(); ++i) {
        const MaglevReal& r = *sorted[i];
        const std::uint64_t exact = std::uint64_t{m} * r.weight; // < 2^56: ring size < 2^24
        walkers[i] = Walker{
            .next = address_hash(r.address, kOffsetSeed) % m,
            .skip = address_hash(r.address, kSkipSeed) % (m - 1) + 1,
            .quota = static_cast<std::uint32_t>(exact / total),
            .weight = r.weight,
            .id = r.id,
            .credit = 0,
        };
        remainder[i] = exact % total;
        assigned += walkers[i].quota;
    }
    std::vector<std::uint32_t> order(sorted.size());
    std::iota(order.begin(), order.end(), 0U);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return remainder[a] > remainder[b]; });
    for (std::uint64_t k = 0; assigned < m; ++k, ++assigned)
        ++walkers[order[k]].quota;
    std::erase_if(walkers, [](const Walker& w) { return w.quota == 0; });
    std::uint32_t max_weight = 0;
    for (const Walker& w : walkers)
        max_weight = std::max(max_weight, w.weight);

    SlotTable table(m);
    std::uint32_t filled = 0;
    while (filled < m) {
        bool exhausted = false;
        for (Walker& w : walkers) {
            w.credit += w.weight;
            if (w.credit < max_weight)
                continue;
            w.credit -= max_weight;
            std::uint32_t pos = table.claim(w);
            ring[pos] = w.id;
            pos += w.skip;
            w.next = pos >= m ? pos - m : pos;
            exhausted |= --w.quota == 0;
            if (++filled == m)
                break;
        }
        // Reals whose quota is met leave the turn order; the heaviest of those left sets the turn cost.
        if (exhausted && filled < m) {
            std::erase_if(walkers, [](const Walker& w) { return w.quota == 0; });
            max_weight = 0;
            for (const Walker& w : walkers)
                max_weight = std::max(max_weight, w.weight);
        }
    }
    return ring;
}

} // namespace dogfish
