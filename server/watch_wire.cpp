#include "watch_wire.hpp"

#include "convert.hpp"

#include <google/protobuf/io/coded_stream.h>

#include <memory>

namespace leasekv::server_detail {

namespace {

// WatchResponse.events: field 11, length-delimited.
constexpr std::uint8_t events_tag = (11 << 3) | 2;

void event_to_pb(const watch_event& e, mvccpb::Event* out) {
  out->set_type(e.type == watch_event::kind::put ? mvccpb::Event::PUT : mvccpb::Event::DELETE);
  to_pb(e.kv, out->mutable_kv());
  if (e.prev_kv) to_pb(*e.prev_kv, out->mutable_prev_kv());
}

}  // namespace

void append_event(std::string& out, const watch_event& e) {
  // One message per thread, cleared between events: its strings keep their capacity.
  thread_local mvccpb::Event pb;
  pb.Clear();
  event_to_pb(e, &pb);
  const std::size_t n = pb.ByteSizeLong();
  const std::size_t at = out.size();
  out.resize(at + 1 + google::protobuf::io::CodedOutputStream::VarintSize64(n) + n);
  auto* p = reinterpret_cast<std::uint8_t*>(out.data() + at);
  *p++ = events_tag;
  p = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(n, p);
  pb.SerializeWithCachedSizesToArray(p);
}

wire_response wire_response::whole(const etcdserverpb::WatchResponse& r) {
  wire_response w;
  w.watch_id = r.watch_id();
  w.bytes = r.SerializeAsString();
  return w;
}

wire_response wire_response::events(std::int64_t watch_id, const response_header& h, std::string bytes) {
  wire_response w;
  w.batch = true;
  w.watch_id = watch_id;
  w.header = h;
  w.bytes = std::move(bytes);
  return w;
}

std::vector<std::string> fragments(etcdserverpb::WatchResponse fixed, std::string_view events, std::size_t limit) {
  // Each entry's extent: the tag, the length, the event.
  std::vector<std::string_view> entries;
  for (std::size_t at = 0; at < events.size();) {
    google::protobuf::io::CodedInputStream in(reinterpret_cast<const std::uint8_t*>(events.data()) + at + 1,
                                              static_cast<int>(events.size() - at - 1));
    std::uint64_t n = 0;
    in.ReadVarint64(&n);
    const std::size_t len = 1 + static_cast<std::size_t>(in.CurrentPosition()) + static_cast<std::size_t>(n);
    entries.push_back(events.substr(at, len));
    at += len;
  }
  std::vector<std::string> out;
  fixed.set_fragment(false);
  if (entries.size() < 2 || fixed.ByteSizeLong() + events.size() < limit) {
    out.push_back(fixed.SerializeAsString().append(events));
    return out;
  }
  fixed.set_fragment(true);
  const std::string base = fixed.SerializeAsString();
  std::string part = base;
  std::size_t taken = 0;
  for (std::string_view e : entries) {
    if (taken > 0 && part.size() + e.size() >= limit) {
      out.push_back(std::move(part));
      part = base;
      taken = 0;
    }
    part.append(e);
    ++taken;
  }
  // The last part: fragment unset (field 7 is the last before the events, so re-encode the front).
  fixed.set_fragment(false);
  out.push_back(fixed.SerializeAsString().append(part, base.size()));
  return out;
}

grpc::ByteBuffer to_byte_buffer(wire_response& r) {
  auto owned = std::make_unique<std::string>(std::move(r.bytes));
  r.bytes.clear();
  grpc::Slice body(owned->data(), owned->size(), [](void* s) { delete static_cast<std::string*>(s); }, owned.get());
  owned.release();  // the slice owns it now
  if (!r.batch) return grpc::ByteBuffer(&body, 1);
  etcdserverpb::WatchResponse fixed;
  to_pb(r.header, fixed.mutable_header());
  fixed.set_watch_id(r.watch_id);
  const grpc::Slice slices[] = {grpc::Slice(fixed.SerializeAsString()), std::move(body)};
  return grpc::ByteBuffer(slices, 2);
}

}  // namespace leasekv::server_detail
