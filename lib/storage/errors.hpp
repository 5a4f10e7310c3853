// The storage module's errors and their details: which file and offset is damaged, which file an I/O
// error is about, which process holds the lock. Every detail lib/storage reports is made in this file.
#pragma once

#include "leasekv/error.hpp"

#include <string>
#include <utility>

namespace leasekv::storage {

// `ec`, with `detail` attached.
inline error fail(boost::system::error_code ec, std::string detail) { return {ec, std::move(detail)}; }

// `r`, whose error (if any) gets the detail "<path>: <message>".
template <class T>
result<T> named(const std::string& path, result<T> r) {
  if (!r) return fail(r.error().code(), path + ": " + r.error().message());
  return r;
}

// errc::corrupt, with the detail "<file>: <what>" (`what` ends with "at offset N").
inline error damaged(const std::string& file, const std::string& what) { return fail(errc::corrupt, file + ": " + what); }

}  // namespace leasekv::storage
