// Watch responses as bytes on their way to a stream. Events are encoded once, where they are made (a
// shared store watch's events once for all its watchers: watch_group.hpp); a batch's header and watch id
// are encoded only when its write starts, so a watcher's later events can join it until then. The
// encoding is protobuf's for etcdserverpb.WatchResponse (fields in number order, proto3 defaults left
// out): a batch's bytes equal WatchResponse::SerializeAsString of the same response.
//
// Thread safety: plain values and free functions; the caller guards a wire_response.
#pragma once

#include "leasekv/watch.hpp"

#include "rpc.pb.h"

#include <grpcpp/support/byte_buffer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace leasekv::server_detail {

// Appends `e` as one entry of WatchResponse's repeated field 11 (`events`): tag, length, mvccpb.Event.
void append_event(std::string& out, const watch_event& e);

// A response queued on a stream.
struct wire_response {
  // A batch: `bytes` are events of watcher `watch_id` (append_event's entries, whole revisions in order),
  // sent under `header`. Otherwise `bytes` are a whole encoded WatchResponse.
  bool batch = false;
  std::int64_t watch_id = 0;
  response_header header;
  std::string bytes;

  static wire_response whole(const etcdserverpb::WatchResponse& r);
  static wire_response events(std::int64_t watch_id, const response_header& h, std::string bytes);
};

// etcd's sendFragments over encoded events: `fixed` (the response without events) followed by `events`
// whole if the message is smaller than `limit` or has fewer than two events; else parts of the longest
// runs of events that keep each part below `limit` (at least one event each), all but the last with
// fragment set. Each part is a whole encoded WatchResponse.
std::vector<std::string> fragments(etcdserverpb::WatchResponse fixed, std::string_view events, std::size_t limit);

// The message to write: a batch's header and id encoded in front of its events, which are moved into the
// buffer without a copy (r.bytes is left empty).
grpc::ByteBuffer to_byte_buffer(wire_response& r);

}  // namespace leasekv::server_detail
