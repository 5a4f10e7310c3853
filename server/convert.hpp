// leasekv::server — protobuf messages to store calls and store responses to protobuf, field by field.
// No semantics here: what a request means is the store's business.
#pragma once

#include "leasekv/store.hpp"

#include "rpc.pb.h"

#include <optional>
#include <string>

namespace leasekv::server_detail {

void to_pb(const response_header& h, etcdserverpb::ResponseHeader* out);
void to_pb(const key_value& kv, mvccpb::KeyValue* out);
void to_pb(const key_value_view& kv, mvccpb::KeyValue* out);

// A request that cannot be translated (an enum value etcd does not define, a txn op with nothing set)
// yields an error; the caller answers it with to_status.
result<range_options> from_pb_options(const etcdserverpb::RangeRequest& r);
result<txn_request> from_pb(const etcdserverpb::TxnRequest& t);

void to_pb(range_view_response& r, etcdserverpb::RangeResponse* out);
void to_pb(const range_response& r, etcdserverpb::RangeResponse* out);
void to_pb(const put_response& r, etcdserverpb::PutResponse* out);
void to_pb(const delete_response& r, etcdserverpb::DeleteRangeResponse* out);
void to_pb(const txn_response& r, etcdserverpb::TxnResponse* out);

inline key_range range_of(const std::string& key, const std::string& range_end) { return key_range(key, range_end); }

}  // namespace leasekv::server_detail
