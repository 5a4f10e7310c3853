// etcd's static bootstrap identity (etcdserver/api/membership: NewMember, genID): SHA-1 over the peer
// URLs and token, first 8 bytes big-endian.
#include "leasekv/server.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace leasekv {
namespace {

std::uint32_t rotl(std::uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

// SHA-1 (FIPS 180-4), written out rather than taken from OpenSSL: OpenSSL 3's SHA1() first initialises
// the library and fetches a provider, ~12% of leasekv-server's CPU from exec to its first answer
// (perf; docs/performance.md, issue 20), to hash a few dozen bytes once.
std::uint64_t first_8_bytes_of_sha1(std::string_view data) {
  std::string m(data);
  const std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8;
  m += static_cast<char>(0x80);
  while (m.size() % 64 != 56) m += '\0';
  for (int i = 7; i >= 0; --i) m += static_cast<char>((bits >> (8 * i)) & 0xff);
  std::array<std::uint32_t, 5> h{0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  for (std::size_t block = 0; block < m.size(); block += 64) {
    std::array<std::uint32_t, 80> w{};
    for (std::size_t t = 0; t < 16; ++t) {
      for (std::size_t j = 0; j < 4; ++j) w[t] = (w[t] << 8) | static_cast<unsigned char>(m[block + 4 * t + j]);
    }
    for (std::size_t t = 16; t < 80; ++t) w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    auto [a, b, c, d, e] = h;
    for (std::size_t t = 0; t < 80; ++t) {
      std::uint32_t f = 0;
      std::uint32_t k = 0;
      if (t < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999;
      } else if (t < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1;
      } else if (t < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6;
      }
      const std::uint32_t next = rotl(a, 5) + f + e + k + w[t];
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = next;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  return (static_cast<std::uint64_t>(h[0]) << 32) | h[1];
}

}  // namespace

member_identity derive_identity(std::vector<std::string> peer_urls, std::string_view cluster_token) {
  std::sort(peer_urls.begin(), peer_urls.end());
  std::string b;
  for (const auto& u : peer_urls) b += u;
  b += cluster_token;
  member_identity id;
  id.member_id = first_8_bytes_of_sha1(b);
  // One member: the cluster id hashes its id alone.
  std::string m(8, '\0');
  for (int i = 0; i < 8; ++i) m[static_cast<std::size_t>(i)] = static_cast<char>((id.member_id >> (56 - 8 * i)) & 0xff);
  id.cluster_id = first_8_bytes_of_sha1(m);
  return id;
}

}  // namespace leasekv
