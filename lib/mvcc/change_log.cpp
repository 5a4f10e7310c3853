#include "mvcc/change_log.hpp"

#include "base/region.hpp"

#include <algorithm>
#include <vector>

namespace leasekv::mvcc {

namespace {

constexpr std::size_t chunk_bytes = std::size_t{1} << 21;

}  // namespace

change_log::~change_log() {
  for (record* c : chunks_) base::free_region(c, chunk_bytes);
}

void change_log::grow() {
  static_assert(sizeof(record) * chunk_records == chunk_bytes);
  const std::uint64_t number = end_ >> chunk_shift;
  // Small pages: a store of a few keys faults in a few KiB, not a huge page.
  auto* c = static_cast<record*>(base::allocate_region(chunk_bytes, false));
  if (chunks_.empty()) first_chunk_ = number;
  chunks_.push_back(c);
  tail_ = c + (end_ & chunk_mask);
  limit_ = c + chunk_records;
}

void change_log::release() {
  // Kept: the chunks from begin_'s to end_'s (the one the next record goes to).
  while (!chunks_.empty() && first_chunk_ < (begin_ >> chunk_shift)) {
    base::free_region(chunks_.front(), chunk_bytes);
    chunks_.pop_front();
    ++first_chunk_;
  }
  while (!chunks_.empty() && first_chunk_ + chunks_.size() - 1 > (end_ >> chunk_shift)) {
    base::free_region(chunks_.back(), chunk_bytes);
    chunks_.pop_back();
  }
  if (!chunks_.empty() && first_chunk_ + chunks_.size() - 1 == (end_ >> chunk_shift)) {
    tail_ = chunks_.back() + (end_ & chunk_mask);
    limit_ = chunks_.back() + chunk_records;
  } else {
    tail_ = limit_ = nullptr;  // grow() maps end_'s chunk
  }
}

void change_log::pop_back(std::size_t n) {
  end_ -= n;
  release();
}

std::uint64_t change_log::lower_bound(revision r) const {
  std::uint64_t lo = begin_;
  std::uint64_t hi = end_;
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    if (at(mid).version->rev() < r) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

void change_log::sort() {
  struct keyed {
    revision rev;
    record rec;
  };
  std::vector<keyed> all;
  all.reserve(size());
  for (std::uint64_t p = begin_; p < end_; ++p) all.push_back({at(p).version->rev(), at(p)});
  if (std::is_sorted(all.begin(), all.end(), [](const keyed& a, const keyed& b) { return a.rev < b.rev; })) return;
  std::sort(all.begin(), all.end(), [](const keyed& a, const keyed& b) { return a.rev < b.rev; });
  std::uint64_t p = begin_;
  for (const keyed& k : all) slot(p++) = k.rec;
}

}  // namespace leasekv::mvcc
