// Seeds for randomized tests: the fixed seeds a test names, which always run (what they once found stays
// found), and one fresh seed per run, so every CI run also tries a sequence never tried before.
//
// The fresh seed is LEASEKV_TEST_SEED when that is set, else one from std::random_device. A test
// CAPTUREs its seed, so a failure prints it; replay it with
//   LEASEKV_TEST_SEED=<seed> build/gcc/tests/<binary> "<test name>"
// Typical use, which runs the whole test case once per seed:
//   const std::uint32_t seed = GENERATE(from_range(leasekv::testing::seeds({7})));
//   CAPTURE(seed);
//   std::mt19937 rng(seed);
#pragma once

#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace leasekv::testing {

// LEASEKV_TEST_SEED if set (a decimal number below 2^32), else a fresh random seed.
inline std::uint32_t fresh_seed() {
  if (const char* env = std::getenv("LEASEKV_TEST_SEED"); env != nullptr && *env != '\0') {
    const unsigned long long v = std::stoull(env);
    if (v > UINT32_MAX) throw std::out_of_range("LEASEKV_TEST_SEED must be below 2^32: " + std::string(env));
    return static_cast<std::uint32_t>(v);
  }
  return static_cast<std::uint32_t>(std::random_device{}());
}

// The fixed seeds, then the fresh one.
inline std::vector<std::uint32_t> seeds(std::initializer_list<std::uint32_t> fixed) {
  std::vector<std::uint32_t> out(fixed);
  out.push_back(fresh_seed());
  return out;
}

}  // namespace leasekv::testing
