// Fuzzes the data directory's readers: the input replaces one file (the log, or with
// -DLEASEKV_FUZZ_SNAPSHOT the snapshot) of a valid directory. Opening must fail cleanly or give a store
// that works: never a crash, a hang or a sanitizer report.
#include <leasekv/leasekv.hpp>

#include "support/fault_env.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

std::shared_ptr<leasekv::testing::fault_env> pristine() {
  static auto env = [] {
    auto e = std::make_shared<leasekv::testing::fault_env>();
    leasekv::options o;
    o.data_dir = "/db";
    o.env = e;
    o.clock = std::make_shared<leasekv::manual_clock>();
    auto s = leasekv::store::open(o).value();
    return e;
  }();
  return env;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto env = pristine()->clone();
#if defined(LEASEKV_FUZZ_SNAPSHOT)
  env->contents("/db/snap-0000000000000001.snap").assign(reinterpret_cast<const char*>(data), size);
#else
  env->contents("/db/wal-0000000000000001.log").assign(reinterpret_cast<const char*>(data), size);
#endif
  leasekv::options o;
  o.data_dir = "/db";
  o.env = env;
  o.clock = std::make_shared<leasekv::manual_clock>();
  auto s = leasekv::store::open(o);
  if (!s) {
    if (s.error() != leasekv::errc::corrupt) std::abort();  // damage is the only way a readable file fails
    return 0;
  }
  auto& st = *s.value();
  const auto all = st.range(leasekv::all_keys());
  if (!all) std::abort();
  (void)st.leases();
  if (!st.put("after", "fuzz")) std::abort();  // it keeps working
  return 0;
}
