// leasekv::remote — store calls to protobuf requests and protobuf responses back to store results, field by
// field (the server's convert.hpp is the other direction). No semantics here: the server decides.
#pragma once

#include "leasekv/store.hpp"

#include "rpc.pb.h"

namespace leasekv::remote_detail {

response_header from_pb(const etcdserverpb::ResponseHeader& h);
key_value from_pb(const mvccpb::KeyValue& kv);

void to_pb(const key_range& r, const range_options& o, etcdserverpb::RangeRequest* out);
void to_pb(std::string_view key, std::string_view value, const put_options& o, etcdserverpb::PutRequest* out);
void to_pb(const key_range& r, const delete_options& o, etcdserverpb::DeleteRangeRequest* out);
void to_pb(const txn_request& t, etcdserverpb::TxnRequest* out);

range_response from_pb(const etcdserverpb::RangeResponse& r);
// The range's kvs copied into one buffer the response owns.
range_view_response view_from_pb(const etcdserverpb::RangeResponse& r);
put_response from_pb(const etcdserverpb::PutResponse& r);
delete_response from_pb(const etcdserverpb::DeleteRangeResponse& r);
txn_response from_pb(const etcdserverpb::TxnResponse& r);

watch_event from_pb(const mvccpb::Event& e);

}  // namespace leasekv::remote_detail
