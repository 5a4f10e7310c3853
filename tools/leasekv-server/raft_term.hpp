// etcd's raft term across restarts: a single etcd member reports term 2 when it first starts and one
// more at each restart of the same data directory (it campaigns again). leasekv has no raft, so
// leasekv-server keeps that count in a file of its own in the data directory, `raft_term` (the term of
// the last start, decimal, newline), and hands it to the store as options::raft_term.
#pragma once

#include <leasekv/env.hpp>
#include <leasekv/error.hpp>

#include <cstdint>
#include <string>

namespace leasekv_server {

// The term this start reports: 2 if `data_dir` has no term file (a new member, or one a version without
// the file wrote), else the file's term plus one. Fails with corrupt naming the file if it holds
// anything but a positive decimal number.
leasekv::result<std::uint64_t> next_raft_term(leasekv::env& e, const std::string& data_dir);

// Records `term` as the last start's, crash-safely: written to raft_term.tmp and synced, renamed over
// raft_term, and the directory synced. A crash leaves the old term or the new one (a leftover
// raft_term.tmp is removed by the store's next open). Call it once the store holds the directory's lock.
leasekv::result<void> save_raft_term(leasekv::env& e, const std::string& data_dir, std::uint64_t term);

}  // namespace leasekv_server
