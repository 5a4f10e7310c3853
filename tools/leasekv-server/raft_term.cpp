#include "raft_term.hpp"

namespace leasekv_server {
namespace {

constexpr const char* file_name = "raft_term";

}  // namespace

leasekv::result<std::uint64_t> next_raft_term(leasekv::env& e, const std::string& data_dir) {
  const std::string path = data_dir + "/" + file_name;
  if (!e.exists(path)) return std::uint64_t{2};
  auto text = e.read_file(path);
  if (!text) return leasekv::error(text.error().code(), path + ": " + text.error().what());
  std::string s = text.value();
  if (!s.empty() && s.back() == '\n') s.pop_back();
  std::uint64_t term = 0;
  bool ok = !s.empty() && s.size() <= 19;
  for (char c : s) {
    ok = ok && c >= '0' && c <= '9';
    if (ok) term = term * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (!ok || term == 0) return leasekv::error(leasekv::errc::corrupt, path + ": not a raft term: \"" + s + "\"");
  return term + 1;
}

leasekv::result<void> save_raft_term(leasekv::env& e, const std::string& data_dir, std::uint64_t term) {
  const std::string path = data_dir + "/" + file_name;
  const std::string tmp = path + ".tmp";
  auto named = [&](const std::string& p, leasekv::result<void> r) -> leasekv::result<void> {
    if (!r) return leasekv::error(r.error().code(), p + ": " + r.error().what());
    return r;
  };
  auto f = e.open_append(tmp);
  if (!f) return leasekv::error(f.error().code(), tmp + ": " + f.error().what());
  BOOST_OUTCOME_TRYV(named(tmp, f.value()->truncate(0)));
  BOOST_OUTCOME_TRYV(named(tmp, f.value()->append(std::to_string(term) + "\n")));
  BOOST_OUTCOME_TRYV(named(tmp, f.value()->sync()));
  f.value().reset();
  BOOST_OUTCOME_TRYV(named(path, e.rename(tmp, path)));
  return named(data_dir, e.sync_dir(data_dir));
}

}  // namespace leasekv_server
