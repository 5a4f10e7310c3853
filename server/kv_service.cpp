// KV: Range, Put, DeleteRange, Txn, Compact (etcd's v3rpc/key.go). The store checks what etcd's
// handlers check (empty keys, ignore_* rules, txn limits and duplicates) and fills the header.
#include "convert.hpp"
#include "services.hpp"
#include "status.hpp"

namespace leasekv::server_detail {

grpc::ServerUnaryReactor* finish(grpc::CallbackServerContext* ctx, const grpc::Status& s) {
  auto* r = ctx->DefaultReactor();
  r->Finish(s);
  return r;
}

namespace {

// `r`'s error as etcd's status and text, or OK with its value in `resp`.
template <class T, class Response>
grpc::Status answer(result<T>& r, Response* resp) {
  if (!r) return to_status(r.error());
  to_pb(r.value(), resp);
  return grpc::Status::OK;
}

}  // namespace

grpc::ServerUnaryReactor* kv_service::Range(grpc::CallbackServerContext* ctx, const etcdserverpb::RangeRequest* req,
                                            etcdserverpb::RangeResponse* resp) {
  auto opts = from_pb_options(*req);
  if (!opts) return finish(ctx, to_status(opts.error()));
  auto r = c_->store->range_view(key_range(req->key(), req->range_end()), opts.value());
  return finish(ctx, answer(r, resp));
}

grpc::ServerUnaryReactor* kv_service::Put(grpc::CallbackServerContext* ctx, const etcdserverpb::PutRequest* req,
                                          etcdserverpb::PutResponse* resp) {
  return run_write(*c_, ctx, [c = c_.get(), req, resp] {
    auto r = c->store->put(req->key(), req->value(),
                           {.lease = req->lease(), .prev_kv = req->prev_kv(), .ignore_value = req->ignore_value(),
                            .ignore_lease = req->ignore_lease()});
    return answer(r, resp);
  });
}

grpc::ServerUnaryReactor* kv_service::DeleteRange(grpc::CallbackServerContext* ctx,
                                                  const etcdserverpb::DeleteRangeRequest* req,
                                                  etcdserverpb::DeleteRangeResponse* resp) {
  return run_write(*c_, ctx, [c = c_.get(), req, resp] {
    auto r = c->store->delete_range(key_range(req->key(), req->range_end()), {.prev_kv = req->prev_kv()});
    return answer(r, resp);
  });
}

grpc::ServerUnaryReactor* kv_service::Txn(grpc::CallbackServerContext* ctx, const etcdserverpb::TxnRequest* req,
                                          etcdserverpb::TxnResponse* resp) {
  auto t = from_pb(*req);
  if (!t) return finish(ctx, to_status(t.error()));
  return run_write(*c_, ctx, [c = c_.get(), t = std::move(t).value(), resp] {
    auto r = c->store->txn(t);
    return answer(r, resp);
  });
}

grpc::ServerUnaryReactor* kv_service::Compact(grpc::CallbackServerContext* ctx,
                                              const etcdserverpb::CompactionRequest* req,
                                              etcdserverpb::CompactionResponse* resp) {
  return run_write(*c_, ctx, [c = c_.get(), req, resp] {
    auto r = c->store->compact(req->revision(), {.physical = req->physical()});
    if (!r) return to_status(r.error());
    to_pb(r.value().header, resp->mutable_header());
    return grpc::Status::OK;
  });
}

}  // namespace leasekv::server_detail
