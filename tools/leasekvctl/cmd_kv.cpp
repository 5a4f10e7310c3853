// put, get, del, compaction (and the option parsing txn's operation lines share).
#include "printer.hpp"

#include <algorithm>
#include <cctype>
#include <iostream>
#include <iterator>

namespace leasekvctl {
namespace {

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

}  // namespace

const flag_spec put_flags{{{"lease", true}, {"prev-kv", false}, {"ignore-value", false}, {"ignore-lease", false}}, {}};
const flag_spec get_flags{{{"prefix", false}, {"from-key", false}, {"limit", true}, {"rev", true}, {"sort-by", true},
                           {"order", true}, {"keys-only", false}, {"print-value-only", false}, {"consistency", true}},
                          {}};
const flag_spec del_flags{{{"prefix", false}, {"from-key", false}, {"prev-kv", false}}, {}};

// The key range of get/del: key [range_end] with --prefix / --from-key, as etcdctl builds it.
leasekv::key_range key_range_of(const args& a, const char* usage) {
  if (a.positional.empty() || a.positional.size() > 2) throw cli_error(exit_bad_args, usage);
  const bool prefix = a.has("prefix");
  const bool from_key = a.has("from-key");
  if (prefix && from_key) throw cli_error(exit_bad_args, "`--prefix` and `--from-key` cannot be set at the same time, choose one");
  const std::string& key = a.positional[0];
  if ((prefix || from_key) && a.positional.size() == 2) {
    throw cli_error(exit_bad_args, "too many arguments, only accept one argument when `--prefix` or `--from-key` is set");
  }
  if (prefix) return leasekv::prefix(key);
  if (from_key) return leasekv::from_key(key);
  if (a.positional.size() == 2) return {key, a.positional[1]};
  return leasekv::key_range(key);
}

leasekv::put_options put_options_of(const args& a) {
  leasekv::put_options o;
  if (auto l = a.value("lease")) o.lease = parse_lease_arg(*l, "bad lease ID");
  o.prev_kv = a.has("prev-kv");
  o.ignore_value = a.has("ignore-value");
  o.ignore_lease = a.has("ignore-lease");
  return o;
}

leasekv::range_options range_options_of(const args& a) {
  leasekv::range_options o;
  if (auto v = a.value("consistency"); v && *v != "l" && *v != "s") {
    throw cli_error(exit_bad_feature, "unknown consistency flag \"" + *v + "\"");
  }
  o.serializable = a.value("consistency") == std::optional<std::string>("s");
  try {
    if (auto v = a.value("limit")) o.limit = parse_int(*v, 10);
    if (auto v = a.value("rev")) o.revision = parse_int(*v, 10);
  } catch (const std::exception& e) {
    throw cli_error(exit_bad_args, std::string("invalid argument: ") + e.what());
  }
  if (auto v = a.value("sort-by")) {
    const std::string t = upper(*v);
    if (t == "CREATE") o.target = leasekv::sort_target::create;
    else if (t == "KEY") o.target = leasekv::sort_target::key;
    else if (t == "MODIFY") o.target = leasekv::sort_target::mod;
    else if (t == "VALUE") o.target = leasekv::sort_target::value;
    else if (t == "VERSION") o.target = leasekv::sort_target::version;
    else throw cli_error(exit_bad_feature, "bad sort target " + *v);
  }
  if (auto v = a.value("order")) {
    const std::string t = upper(*v);
    if (t == "ASCEND") o.order = leasekv::sort_order::ascend;
    else if (t == "DESCEND") o.order = leasekv::sort_order::descend;
    else throw cli_error(exit_bad_feature, "bad sort order " + *v);
  }
  o.keys_only = a.has("keys-only");
  return o;
}

int cmd_put(context& c) {
  args& a = c.a;
  std::vector<std::string> pos = a.positional;
  pos.insert(pos.end(), a.after_dash.begin(), a.after_dash.end());
  const leasekv::put_options o = put_options_of(a);
  std::string key;
  std::string value;
  if (o.ignore_value) {
    if (pos.size() != 1) throw cli_error(exit_bad_args, "put command needs only 1 argument when 'ignore-value' is set");
    key = pos[0];
  } else if (pos.size() >= 2) {
    key = pos[0];
    value = pos[1];  // etcdctl ignores anything after the value
  } else if (pos.size() == 1) {
    key = pos[0];
    value.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    throw cli_error(exit_bad_args, "put command needs 1 argument and input from stdin or 2 arguments");
  }
  auto s = open_store(c, access::write);
  auto r = s->put(key, value, o);
  if (!r) throw cli_error(exit_error, error_text(r.error()));
  refuse_unsupported_format(c);
  make_printer(c, {.hex = c.hex})->put(r.value());
  return exit_success;
}

int cmd_get(context& c) {
  args& a = c.a;
  const auto range = key_range_of(a, "get command needs one argument as key and an optional argument as range_end");
  const leasekv::range_options o = range_options_of(a);
  const bool value_only = a.has("print-value-only");
  if (value_only && c.out != format::simple) throw cli_error(exit_bad_args, "print-value-only is only for `--write-out=simple`");
  auto s = open_store(c, access::read);
  auto r = s->range(range, o);
  if (!r) throw cli_error(exit_error, error_text(r.error()));
  refuse_unsupported_format(c);
  make_printer(c, {.hex = c.hex, .keys_only = o.keys_only, .print_value_only = value_only})->get(r.value());
  return exit_success;
}

int cmd_del(context& c) {
  args& a = c.a;
  const auto range = key_range_of(a, "del command needs one argument as key and an optional argument as range_end");
  auto s = open_store(c, access::write);
  auto r = s->delete_range(range, {.prev_kv = a.has("prev-kv")});
  if (!r) throw cli_error(exit_error, error_text(r.error()));
  refuse_unsupported_format(c);
  make_printer(c, {.hex = c.hex})->del(r.value());
  return exit_success;
}

int cmd_compaction(context& c) {
  args& a = c.a;
  if (a.positional.size() != 1) throw cli_error(exit_bad_args, "compaction command needs 1 argument");
  std::int64_t rev = 0;
  try {
    rev = parse_int(a.positional[0], 10);
  } catch (const std::exception& e) {
    throw cli_error(exit_error, e.what());
  }
  auto s = open_store(c, access::write);
  auto r = s->compact(rev, {.physical = a.has("physical")});
  if (!r) throw cli_error(exit_error, error_text(r.error()));
  out_line("compacted revision " + std::to_string(rev));
  return exit_success;
}

}  // namespace leasekvctl
