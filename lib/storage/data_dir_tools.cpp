// The offline tools of include/leasekv/data_dir_tools.hpp: snapshot status, restore, check.
#include "leasekv/data_dir_tools.hpp"

#include "base/crc32c.hpp"
#include "storage/errors.hpp"
#include "storage/files.hpp"
#include "storage/replay.hpp"

#include <algorithm>

namespace leasekv {

using storage::fail;
using storage::file_header;
using storage::list_dir;
using storage::load_snapshot;
using storage::named;
using storage::parent_of;
using storage::recovery_sink;
using storage::replay_log;
using storage::replay_result;
using storage::snap_key_record;
using storage::snap_meta_record;
using storage::snap_name;
using storage::wal_magic;
using storage::wal_name;

namespace {

// The last component of `path`: damage in a snapshot file is reported under the name it was given.
std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Checks the contents `data` of the snapshot file `name`, whatever sequence number its header says.
result<snapshot_status> inspect(std::string_view data, const std::string& name) {
  snapshot_status status;
  status.total_size = data.size();
  status.hash = base::crc32c(data);
  recovery_sink count{[&](const snap_meta_record& m) {
                        status.revision = m.revision;
                        return true;
                      },
                      [&](const snap_key_record&) {
                        ++status.total_keys;
                        return true;
                      },
                      [](std::int64_t, std::int64_t, std::int64_t) { return true; }, nullptr};
  BOOST_OUTCOME_TRYV(load_snapshot(data, name, std::nullopt, count));
  return status;
}

// Removes a directory a killed restore left behind, with the files in it.
void remove_tree(env& e, const std::string& dir) {
  if (auto names = e.list(dir)) {
    for (const auto& n : names.value()) (void)e.remove(dir + "/" + n);
  }
  (void)e.remove(dir);
}

}  // namespace

result<snapshot_status> inspect_snapshot(env& e, const std::string& path) {
  BOOST_OUTCOME_TRY(data, named(path, e.read_file(path)));
  return inspect(data, base_name(path));
}

result<void> restore_snapshot(env& e, const std::string& path, const std::string& dir) {
  BOOST_OUTCOME_TRY(data, named(path, e.read_file(path)));
  BOOST_OUTCOME_TRYV(inspect(data, base_name(path)));
  if (e.exists(dir)) return fail(boost::system::errc::make_error_code(boost::system::errc::file_exists), dir + " exists");
  // Built beside the target and renamed into place, so the target is never seen half made. A directory
  // a killed restore left there is removed first.
  const std::string tmp = dir + ".restore.tmp";
  remove_tree(e, tmp);
  auto build = [&]() -> result<void> {
    BOOST_OUTCOME_TRYV(named(tmp, e.create_dir(tmp)));
    // The file becomes the directory's first snapshot (its header already says sequence 1) and an empty
    // log follows it.
    const std::string snap = tmp + "/" + snap_name(1);
    BOOST_OUTCOME_TRY(s, named(snap, e.open_append(snap)));
    BOOST_OUTCOME_TRYV(named(snap, s->append(data)));
    BOOST_OUTCOME_TRYV(named(snap, s->sync()));
    const std::string wal = tmp + "/" + wal_name(1);
    BOOST_OUTCOME_TRY(w, named(wal, e.open_append(wal)));
    BOOST_OUTCOME_TRYV(named(wal, w->append(file_header(wal_magic, 1))));
    BOOST_OUTCOME_TRYV(named(wal, w->sync()));
    BOOST_OUTCOME_TRYV(named(tmp, e.sync_dir(tmp)));
    return named(dir, e.rename(tmp, dir));
  };
  if (auto r = build(); !r) {
    remove_tree(e, tmp);
    return r.error();
  }
  return named(parent_of(dir), e.sync_dir(parent_of(dir)));
}

result<std::vector<std::string>> check_data_dir(env& e, const std::string& dir) {
  std::vector<std::string> problems;
  BOOST_OUTCOME_TRY(files, list_dir(e, dir));
  if (files.snaps.empty()) problems.push_back(dir + ": no snapshot");
  recovery_sink accept{[](const snap_meta_record&) { return true; }, [](const snap_key_record&) { return true; },
                       [](std::int64_t, std::int64_t, std::int64_t) { return true; }, nullptr};
  for (auto s : files.snaps) {
    auto data = e.read_file(dir + "/" + snap_name(s));
    if (!data) {
      problems.push_back(snap_name(s) + ": " + data.error().message());
    } else if (auto r = load_snapshot(data.value(), snap_name(s), s, accept); !r) {
      problems.push_back(r.error().detail());
    }
  }
  if (!files.snaps.empty() && !std::binary_search(files.wals.begin(), files.wals.end(), files.snaps.back())) {
    problems.push_back(wal_name(files.snaps.back()) + ": missing (the log after the newest snapshot)");
  }
  for (std::size_t i = 0; i < files.wals.size(); ++i) {
    const std::string name = wal_name(files.wals[i]);
    auto data = e.read_file(dir + "/" + name);
    if (!data) {
      problems.push_back(name + ": " + data.error().message());
      continue;
    }
    const bool last = i + 1 == files.wals.size();
    const replay_result r = replay_log(data.value(), 0, files.wals[i], last, nullptr);
    if (!r.error.empty()) problems.push_back(name + ": " + r.error);
    if (r.torn) problems.push_back(name + ": torn record at offset " + std::to_string(r.valid_end) + " (cut off at the next open)");
  }
  return problems;
}

}  // namespace leasekv
