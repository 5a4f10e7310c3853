"""python3-etcd3 (Debian's, 0.12) against leasekv-server: put and get, a lease (grant, a put on it, its TTL
and keys, revoke deleting the key), a watch seeing puts and deletes, delete, and etcd's error for an
unknown lease.

    python3 python_etcd3_test.py HOST:PORT
"""
import queue
import sys

import etcd3
import etcd3.events
import etcd3.exceptions

# A generous wait for a watch event: a loaded CI machine runs this under the sanitizers.
PATIENCE = 30


def check(cond, what):
    if not cond:
        print("FAIL: " + what, file=sys.stderr)
        sys.exit(1)


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    c = etcd3.client(host=host, port=int(port), timeout=PATIENCE)

    # put / get
    c.put("/py/a", "1")
    value, meta = c.get("/py/a")
    check(value == b"1", "get: %r" % (value,))
    check(meta.key == b"/py/a" and meta.version == 1 and meta.create_revision == meta.mod_revision,
          "get metadata: %r" % (meta,))
    c.put("/py/a", "2")
    value, meta = c.get("/py/a")
    check(value == b"2" and meta.version == 2, "second put: %r %r" % (value, meta))
    check(c.get("/py/missing") == (None, None), "get of a missing key")
    c.put("/py/b", "3")
    check([v for v, _ in c.get_prefix("/py/")] == [b"2", b"3"], "get_prefix")
    print("ok put and get")

    # lease
    lease = c.lease(30)
    check(lease.id > 0, "lease id %r" % (lease.id,))
    c.put("/py/leased", "x", lease=lease)
    check(c.get("/py/leased")[1].lease_id == lease.id, "the key's lease")
    check(lease.granted_ttl == 30, "granted ttl %r" % (lease.granted_ttl,))
    check(10 <= lease.remaining_ttl <= 30, "remaining ttl %r" % (lease.remaining_ttl,))
    check(list(lease.keys) == [b"/py/leased"], "lease keys %r" % (list(lease.keys),))
    refreshed = lease.refresh()
    check(refreshed and refreshed[0].TTL == 30, "refresh %r" % (refreshed,))
    lease.revoke()
    check(c.get("/py/leased") == (None, None), "the key outlived its lease's revoke")
    check(lease.remaining_ttl == -1, "ttl of a revoked lease %r" % (lease.remaining_ttl,))
    try:
        c.put("/py/leased", "x", lease=lease)
        check(False, "put on a revoked lease succeeded")
    except Exception as e:  # python-etcd3 passes the gRPC error through
        check("requested lease not found" in str(e), "put on a revoked lease: %r" % (e,))
    print("ok lease grant, put with lease, ttl, keys, refresh, revoke")

    # watch
    responses = queue.Queue()
    watch_id = c.add_watch_prefix_callback("/py/w/", responses.put)
    c.put("/py/w/1", "a")
    c.delete("/py/w/1")
    events = []
    while len(events) < 2:
        r = responses.get(timeout=PATIENCE)
        check(not isinstance(r, Exception), "watch error %r" % (r,))
        events.extend(r.events)
    check(isinstance(events[0], etcd3.events.PutEvent) and events[0].key == b"/py/w/1" and events[0].value == b"a",
          "put event %r" % (events[0],))
    check(isinstance(events[1], etcd3.events.DeleteEvent) and events[1].key == b"/py/w/1",
          "delete event %r" % (events[1],))
    c.cancel_watch(watch_id)
    print("ok watch sees a put and a delete")

    # delete
    check(c.delete("/py/a") is True, "delete of a key")
    check(c.delete("/py/a") is False, "delete of a missing key")
    c.delete_prefix("/py/")
    check(list(c.get_prefix("/py/")) == [], "delete_prefix")
    print("ok delete")
    c.close()


if __name__ == "__main__":
    main()
