#include "log.hpp"

#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace leasekv_server {
namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace

std::optional<logger> logger::make(const std::string& format, const std::string& level) {
  if (format != "capnslog" && format != "zap") return std::nullopt;
  log_level min;
  if (level == "debug") {
    min = log_level::debug;
  } else if (level == "info") {
    min = log_level::info;
  } else if (level == "warn") {
    min = log_level::warning;
  } else if (level == "error" || level == "panic" || level == "fatal") {
    min = log_level::error;
  } else {
    return std::nullopt;
  }
  return logger(format == "zap", min);
}

void logger::print(log_level level, const std::string& text, const std::string& msg,
                   std::initializer_list<log_field> fields) const {
  if (level < min_ || (zap_ && msg.empty())) return;
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  std::tm tm{};
  char date[32];
  std::string line;
  if (zap_) {
    // zap's ISO 8601 time in UTC, to the millisecond.
    gmtime_r(&t, &tm);
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    const char* name = level == log_level::debug     ? "debug"
                       : level == log_level::warning ? "warn"
                       : level == log_level::error   ? "error"
                                                     : "info";
    line = fmt::format("{{\"level\":\"{}\",\"ts\":\"{}.{:03d}Z\",\"msg\":{}", name, date, us / 1000, json_string(msg));
    for (const auto& [key, value] : fields) line += fmt::format(",{}:{}", json_string(key), json_string(value));
    line += "}\n";
  } else {
    // capnslog: local time to the microsecond, then the level's letter.
    localtime_r(&t, &tm);
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
    const char letter = "DINWE"[static_cast<int>(level)];
    line = fmt::format("{}.{:06d} {} | {}\n", date, us, letter, text);
  }
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace leasekv_server
