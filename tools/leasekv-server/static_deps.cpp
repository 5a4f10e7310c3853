// The out-of-line parts of fmt and spdlog that leasekv's code calls, compiled into leasekv-server's
// static link (tools/leasekv-server/CMakeLists.txt), where Debian ships only those libraries' shared
// objects: each `-inl.h` header holds the definitions its library's .so is built from. Compiled with the
// compile definitions of the shared libraries' own targets (SPDLOG_COMPILED_LIB, SPDLOG_FMT_EXTERNAL, no
// FMT_HEADER_ONLY), so the definitions are the same, out of line, ones the other objects call.
#include <fmt/format-inl.h>

#include <spdlog/common-inl.h>
#include <spdlog/details/backtracer-inl.h>
#include <spdlog/details/log_msg-inl.h>
#include <spdlog/details/log_msg_buffer-inl.h>
#include <spdlog/details/os-inl.h>
#include <spdlog/logger-inl.h>
#include <spdlog/pattern_formatter-inl.h>
#include <spdlog/sinks/sink-inl.h>

namespace fmt {
inline namespace v9 {
namespace detail {
// Templates the other objects call for char, float and double; format-inl.h defines them only.
template auto thousands_sep_impl<char>(locale_ref) -> thousands_sep_result<char>;
template char decimal_point_impl<char>(locale_ref);
template auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;
}  // namespace detail
}  // namespace v9
}  // namespace fmt
