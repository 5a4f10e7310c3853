#include "bbolt_writer.hpp"

#include <cstdint>

namespace leasekv::server_detail {
namespace {

constexpr std::size_t page_size = 4096;
constexpr std::size_t page_header = 16;
constexpr std::size_t element_header = 16;  // leaf: flags, pos, ksize, vsize; branch: pos, ksize, pgid
constexpr std::uint16_t branch_page = 0x01;
constexpr std::uint16_t leaf_page = 0x02;
constexpr std::uint16_t meta_page = 0x04;
constexpr std::uint16_t freelist_page = 0x10;
constexpr std::uint32_t bucket_leaf = 0x01;  // a leaf element whose value is a bucket header
constexpr std::uint32_t magic = 0xED0CDAED;
constexpr std::uint32_t version = 2;

void put_le(std::string& out, std::size_t at, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
}

struct element {
  std::string_view key;
  std::string_view value;  // leaf only
  std::uint32_t flags = 0;  // leaf only
  std::uint64_t child = 0;  // branch only
};

// The pages of one file, numbered as they are appended.
class file_builder {
 public:
  file_builder() : data_(3 * page_size, '\0') {}  // the two metas and the freelist come last

  // Writes one page (with its overflow pages) holding `elems`; returns its id.
  std::uint64_t add_page(std::uint16_t flags, const std::vector<element>& elems) {
    std::size_t bytes = page_header + elems.size() * element_header;
    for (const auto& e : elems) bytes += e.key.size() + (flags == leaf_page ? e.value.size() : 0);
    const std::size_t pages = (bytes + page_size - 1) / page_size;
    const std::uint64_t id = data_.size() / page_size;
    const std::size_t base = data_.size();
    data_.resize(base + pages * page_size, '\0');
    put_le(data_, base, id, 8);
    put_le(data_, base + 8, flags, 2);
    put_le(data_, base + 10, elems.size(), 2);
    put_le(data_, base + 12, pages - 1, 4);
    std::size_t at = base + page_header + elems.size() * element_header;
    for (std::size_t i = 0; i < elems.size(); ++i) {
      const auto& e = elems[i];
      const std::size_t eh = base + page_header + i * element_header;
      if (flags == leaf_page) {
        put_le(data_, eh, e.flags, 4);
        put_le(data_, eh + 4, at - eh, 4);
        put_le(data_, eh + 8, e.key.size(), 4);
        put_le(data_, eh + 12, e.value.size(), 4);
      } else {
        put_le(data_, eh, at - eh, 4);
        put_le(data_, eh + 4, e.key.size(), 4);
        put_le(data_, eh + 8, e.child, 8);
      }
      data_.replace(at, e.key.size(), e.key);
      at += e.key.size();
      if (flags == leaf_page) {
        data_.replace(at, e.value.size(), e.value);
        at += e.value.size();
      }
    }
    return id;
  }

  // A B+tree of `items` (ascending keys): full leaves, then branch levels up to one root; its id.
  std::uint64_t add_tree(const std::vector<element>& items) {
    std::vector<element> level;  // the first key and the id of each page just written
    auto pack = [&](std::uint16_t flags, const std::vector<element>& elems) {
      std::vector<element> next;
      std::vector<element> page;
      std::size_t bytes = page_header;
      auto flush = [&] {
        next.push_back({page.empty() ? std::string_view() : page.front().key, {}, 0, add_page(flags, page)});
        page.clear();
        bytes = page_header;
      };
      for (const auto& e : elems) {
        const std::size_t add = element_header + e.key.size() + (flags == leaf_page ? e.value.size() : 0);
        if (!page.empty() && bytes + add > page_size) flush();
        page.push_back(e);
        bytes += add;
      }
      if (!page.empty() || next.empty()) flush();  // an empty tree is one empty leaf
      return next;
    };
    level = pack(leaf_page, items);
    while (level.size() > 1) level = pack(branch_page, level);
    return level.front().child;
  }

  std::string finish(std::uint64_t root) {
    const std::uint64_t high_water = data_.size() / page_size;
    // The freelist: empty.
    put_le(data_, 2 * page_size, 2, 8);
    put_le(data_, 2 * page_size + 8, freelist_page, 2);
    for (std::uint64_t txid = 0; txid < 2; ++txid) {
      const std::size_t p = txid * page_size;
      put_le(data_, p, txid, 8);
      put_le(data_, p + 8, meta_page, 2);
      const std::size_t m = p + page_header;
      put_le(data_, m, magic, 4);
      put_le(data_, m + 4, version, 4);
      put_le(data_, m + 8, page_size, 4);
      put_le(data_, m + 12, 0, 4);           // flags
      put_le(data_, m + 16, root, 8);        // root bucket: its page
      put_le(data_, m + 24, 0, 8);           // and its sequence
      put_le(data_, m + 32, 2, 8);           // freelist page
      put_le(data_, m + 40, high_water, 8);  // pages in use
      put_le(data_, m + 48, txid, 8);
      // FNV-64a of the 56 bytes before the checksum.
      std::uint64_t h = 14695981039346656037ull;
      for (std::size_t i = 0; i < 56; ++i) {
        h ^= static_cast<unsigned char>(data_[m + i]);
        h *= 1099511628211ull;
      }
      put_le(data_, m + 56, h, 8);
    }
    return std::move(data_);
  }

 private:
  std::string data_;
};

}  // namespace

std::string write_bbolt(const std::vector<bbolt_bucket>& buckets) {
  file_builder f;
  std::vector<std::string> headers;  // each bucket's 16-byte header: root page, sequence 0
  headers.reserve(buckets.size());
  for (const auto& b : buckets) {
    std::vector<element> items;
    items.reserve(b.items.size());
    for (const auto& [k, v] : b.items) items.push_back({k, v, 0, 0});
    std::string h(16, '\0');
    put_le(h, 0, f.add_tree(items), 8);
    headers.push_back(std::move(h));
  }
  std::vector<element> root;
  for (std::size_t i = 0; i < buckets.size(); ++i) root.push_back({buckets[i].name, headers[i], bucket_leaf, 0});
  const std::uint64_t root_page = f.add_tree(root);
  return f.finish(root_page);
}

}  // namespace leasekv::server_detail
