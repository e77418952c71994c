// Weighted Maglev consistent hashing (Eisenbud et al., NSDI 2016).
//
// A ring of ring_size slots (a prime) maps a flow hash to a real id. Each real
// walks its own permutation of the slots, (offset + k * skip) mod ring_size,
// from two fixed-seed hashes of its address; reals take turns claiming the next
// free slot of their permutation, a real of weight w taking w turns for every
// max_weight, until every slot is claimed. A real's share is its weight share to
// within one slot (largest-remainder quotas).
//
// The ring depends only on the set of (address, weight) pairs: reals are sorted
// by address and hashed with a seed fixed here, so two balancers with one
// configuration build the same ring. Ids label the slots and move nothing.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "dogfish/base/address.hpp"

namespace dogfish {

struct MaglevReal {
  IpAddress address;
  std::uint32_t weight = 1;         // 0: no slots (drained)
  std::uint32_t id = DF_REAL_NONE;  // what the slots hold; must not be DF_REAL_NONE if weight > 0
};

class Maglev {
 public:
  // Throws Error unless ring_size is a prime in [3, kMaxRingSize].
  explicit Maglev(std::uint32_t ring_size = DF_DEFAULT_RING_SIZE);

  static constexpr std::uint32_t kMaxRingSize = 1U << 24;
  static bool is_prime(std::uint32_t n) noexcept;

  std::uint32_t ring_size() const noexcept { return ring_size_; }

  // The ring: ring_size real ids, DF_REAL_NONE everywhere when no real has a weight.
  // Throws Error on a duplicate address or a weighted real with id DF_REAL_NONE.
  std::vector<std::uint32_t> build(std::span<const MaglevReal> reals) const;

 private:
  std::uint32_t ring_size_;
};

}  // namespace dogfish
