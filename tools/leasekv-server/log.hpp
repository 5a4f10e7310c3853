// leasekv-server's log on stderr, in etcd 3.4's two formats so that a harness grepping etcd's lines finds
// them: capnslog (the default) and zap (--logger zap, one JSON object a line).
//
//   capnslog: 2026-12-07 12:08:44.641466 I | embed: ready to serve client requests
//   zap:      {"level":"info","ts":"2026-12-07T12:08:44.641Z","msg":"serving client traffic securely","address":"..."}
//
// Thread safety: a logger is constant after construction; print() may be called from any thread (each
// line is written with one call).
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>

namespace leasekv_server {

// capnslog's levels; zap has no notice and prints it as info. --log-level's warn hides info and notice.
enum class log_level { debug, info, notice, warning, error };

// One structured field of a zap line: its name and its value, a JSON string.
using log_field = std::pair<const char*, std::string>;

class logger {
 public:
  // `format`: "capnslog" or "zap"; `level`: debug, info, warn, error, panic or fatal (etcd's --log-level).
  // nullopt if either is not one of those.
  static std::optional<logger> make(const std::string& format, const std::string& level);

  // One line at `level`, unless below the logger's level: `text` in capnslog format ("package: what");
  // `msg` and `fields` in zap format (an empty msg: the line is capnslog's only).
  void print(log_level level, const std::string& text, const std::string& msg,
             std::initializer_list<log_field> fields = {}) const;

 private:
  logger(bool zap, log_level min) : zap_(zap), min_(min) {}
  bool zap_ = false;
  log_level min_ = log_level::info;
};

}  // namespace leasekv_server
