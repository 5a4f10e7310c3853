// The storage module's errors and their details: which file and offset is damaged, which file an I/O
// error is about, which process holds the lock. Every detail lib/storage reports is attached in this
// file, so that moving to errors that carry their own detail changes this file and its callers' types
// only.
#pragma once

#include "leasekv/error.hpp"

#include <string>
#include <utility>

namespace leasekv::storage {

// `ec`, with `detail` attached (for now: last_error_detail() is set to it).
inline boost::system::error_code fail(boost::system::error_code ec, std::string detail) {
  set_last_error_detail(std::move(detail));
  return ec;
}

// The detail attached to `ec`, the error of the call that just failed in this thread; for keeping it
// across clean-up work that may attach details of its own.
inline std::string detail_of(const boost::system::error_code&) { return last_error_detail(); }

// Starts a call that reports details with none attached, so that an error it returns without one (or a
// success) does not show an earlier failure's.
inline void clear_detail() { set_last_error_detail({}); }

// `r`, whose error (if any) gets the detail "<path>: <message>".
template <class T>
result<T> named(const std::string& path, result<T> r) {
  if (!r) return fail(r.error(), path + ": " + r.error().message());
  return r;
}

// errc::corrupt, with the detail "<file>: <what>" (`what` ends with "at offset N").
inline boost::system::error_code damaged(const std::string& file, const std::string& what) {
  return fail(errc::corrupt, file + ": " + what);
}

}  // namespace leasekv::storage
