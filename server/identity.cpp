// etcd's static bootstrap identity (etcdserver/api/membership: NewMember, genID): SHA-1 over the peer
// URLs and token, first 8 bytes big-endian.
#include "leasekv/server.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <string>

namespace leasekv {
namespace {

std::uint64_t first_8_bytes_of_sha1(const std::string& data) {
  std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
  SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | digest[static_cast<std::size_t>(i)];
  return v;
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
