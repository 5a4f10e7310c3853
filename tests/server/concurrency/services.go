// The server-side Lock and Election services (v3lockpb, v3electionpb), called as C++, .NET and Erlang
// clients call them: straight through their gRPC stubs on clientv3's connection.
package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/etcdserver/api/v3election/v3electionpb"
	"go.etcd.io/etcd/etcdserver/api/v3lock/v3lockpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// How long a blocked call is given to (wrongly) return before the test moves on.
const stillBlocked = 300 * time.Millisecond

// expectUnknown checks err is etcd's Unknown status with exactly `message`.
func expectUnknown(what string, err error, message string) {
	if status.Code(err) != codes.Unknown || status.Convert(err).Message() != message {
		fail("%s: got %v, want code Unknown %q", what, err, message)
	}
}

func grant(ctx context.Context, cli *clientv3.Client) int64 {
	r, err := cli.Grant(ctx, 30)
	if err != nil {
		fail("grant: %v", err)
	}
	return int64(r.ID)
}

// waitKeys waits until exactly n keys are under prefix (a cancelled call's cleanup runs after its
// client has seen the cancellation).
func waitKeys(ctx context.Context, cli *clientv3.Client, prefix string, n int64) {
	for {
		r, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			fail("count %s: %v", prefix, err)
		}
		if r.Count == n {
			return
		}
		if ctx.Err() != nil {
			fail("%s has %d keys, want %d", prefix, r.Count, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func services(cli *clientv3.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	lockService(ctx, cli)
	electionService(ctx, cli)
}

func lockService(ctx context.Context, cli *clientv3.Client) {
	lc := v3lockpb.NewLockClient(cli.ActiveConnection())
	l1, l2, l3 := grant(ctx, cli), grant(ctx, cli), grant(ctx, cli)

	// Free: the lock is taken at once, by a key named after the lease.
	r1, err := lc.Lock(ctx, &v3lockpb.LockRequest{Name: []byte("slock"), Lease: l1})
	if err != nil {
		fail("lock: %v", err)
	}
	if want := fmt.Sprintf("slock/%x", l1); string(r1.Key) != want {
		fail("lock key %q, want %q", r1.Key, want)
	}
	got, err := cli.Get(ctx, string(r1.Key))
	if err != nil || len(got.Kvs) != 1 || got.Kvs[0].Lease != l1 || got.Kvs[0].CreateRevision != r1.Header.Revision {
		fail("the lock's key: %v %v (lock header %v)", got, err, r1.Header)
	}

	// Held: a second Lock blocks until Unlock.
	type lockResult struct {
		r   *v3lockpb.LockResponse
		err error
	}
	second := make(chan lockResult, 1)
	go func() {
		r, err := lc.Lock(ctx, &v3lockpb.LockRequest{Name: []byte("slock"), Lease: l2})
		second <- lockResult{r, err}
	}()
	waitKeys(ctx, cli, "slock/", 2)
	// A third waiter gives up: its deadline passes while it waits, and its key goes.
	short, cancelShort := context.WithTimeout(ctx, stillBlocked)
	_, err = lc.Lock(short, &v3lockpb.LockRequest{Name: []byte("slock"), Lease: l3})
	cancelShort()
	if status.Code(err) != codes.DeadlineExceeded {
		fail("a lock held elsewhere: got %v, want DeadlineExceeded", err)
	}
	waitKeys(ctx, cli, "slock/", 2)
	select {
	case r := <-second:
		fail("a second Lock returned while the lock was held: %v %v", r.r, r.err)
	default:
	}
	if _, err := lc.Unlock(ctx, &v3lockpb.UnlockRequest{Key: r1.Key}); err != nil {
		fail("unlock: %v", err)
	}
	r2 := <-second
	if r2.err != nil || string(r2.r.Key) != fmt.Sprintf("slock/%x", l2) {
		fail("second lock after unlock: %v %v", r2.r, r2.err)
	}
	if _, err := lc.Unlock(ctx, &v3lockpb.UnlockRequest{Key: r2.r.Key}); err != nil {
		fail("unlock: %v", err)
	}
	waitKeys(ctx, cli, "slock/", 0)
	fmt.Println("ok lock blocks while held, unlock lets the next in, an abandoned wait leaves no key")

	// Lease 0: the server grants a 60 s lease of its own.
	r0, err := lc.Lock(ctx, &v3lockpb.LockRequest{Name: []byte("slock0")})
	if err != nil || !strings.HasPrefix(string(r0.Key), "slock0/") {
		fail("lock with lease 0: %v %v", r0, err)
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(string(r0.Key), "slock0/"), 16, 64)
	if err != nil {
		fail("lock key %q: %v", r0.Key, err)
	}
	ttl, err := cli.TimeToLive(ctx, clientv3.LeaseID(id))
	if err != nil || ttl.GrantedTTL != 60 {
		fail("the lease of a lock with lease 0: %v %v", ttl, err)
	}
	fmt.Println("ok lock with lease 0 runs on a fresh 60 s lease")

	_, err = lc.Lock(ctx, &v3lockpb.LockRequest{Name: []byte("slock"), Lease: 12345})
	expectUnknown("lock with an unknown lease", err, "etcdserver: requested lease not found")
	fmt.Println("ok lock with an unknown lease fails with Unknown")
}

func electionService(ctx context.Context, cli *clientv3.Client) {
	ec := v3electionpb.NewElectionClient(cli.ActiveConnection())
	l1, l2, l3 := grant(ctx, cli), grant(ctx, cli), grant(ctx, cli)
	name := []byte("select")

	c1, err := ec.Campaign(ctx, &v3electionpb.CampaignRequest{Name: name, Lease: l1, Value: []byte("one")})
	if err != nil {
		fail("campaign: %v", err)
	}
	lk := c1.Leader
	if string(lk.Name) != "select" || string(lk.Key) != fmt.Sprintf("select/%x", l1) || lk.Lease != l1 ||
		lk.Rev != c1.Header.Revision {
		fail("leader key %v (header %v)", lk, c1.Header)
	}
	leader, err := ec.Leader(ctx, &v3electionpb.LeaderRequest{Name: name})
	if err != nil || string(leader.Kv.Value) != "one" || leader.Kv.CreateRevision != lk.Rev {
		fail("leader: %v %v", leader, err)
	}
	obs, err := ec.Observe(ctx, &v3electionpb.LeaderRequest{Name: name})
	if err != nil {
		fail("observe: %v", err)
	}
	expectObserved := func(value string) {
		r, err := obs.Recv()
		if err != nil || string(r.Kv.Value) != value {
			fail("observe: got %v %v, want %q", r, err, value)
		}
	}
	expectObserved("one")
	if _, err := ec.Proclaim(ctx, &v3electionpb.ProclaimRequest{Leader: lk, Value: []byte("two")}); err != nil {
		fail("proclaim: %v", err)
	}
	expectObserved("two")

	// A second candidate waits until the leader resigns.
	type campaignResult struct {
		r   *v3electionpb.CampaignResponse
		err error
	}
	second := make(chan campaignResult, 1)
	go func() {
		r, err := ec.Campaign(ctx, &v3electionpb.CampaignRequest{Name: name, Lease: l2, Value: []byte("three")})
		second <- campaignResult{r, err}
	}()
	waitKeys(ctx, cli, "select/", 2)
	// A third gives up; it resigns its candidacy.
	short, cancelShort := context.WithTimeout(ctx, stillBlocked)
	_, err = ec.Campaign(short, &v3electionpb.CampaignRequest{Name: name, Lease: l3, Value: []byte("four")})
	cancelShort()
	if status.Code(err) != codes.DeadlineExceeded {
		fail("a campaign while another leads: got %v, want DeadlineExceeded", err)
	}
	waitKeys(ctx, cli, "select/", 2)
	select {
	case r := <-second:
		fail("a second Campaign returned while another led: %v %v", r.r, r.err)
	default:
	}
	if _, err := ec.Resign(ctx, &v3electionpb.ResignRequest{Leader: lk}); err != nil {
		fail("resign: %v", err)
	}
	c2 := <-second
	if c2.err != nil || string(c2.r.Leader.Key) != fmt.Sprintf("select/%x", l2) {
		fail("second campaign after resign: %v %v", c2.r, c2.err)
	}
	expectObserved("three")
	fmt.Println("ok campaign blocks while another leads; proclaim, leader, observe and resign")

	// A stale leader key: Resign succeeds and changes nothing; Proclaim is refused.
	if _, err := ec.Resign(ctx, &v3electionpb.ResignRequest{Leader: lk}); err != nil {
		fail("resign with a stale leader key: %v", err)
	}
	_, err = ec.Proclaim(ctx, &v3electionpb.ProclaimRequest{Leader: lk, Value: []byte("x")})
	expectUnknown("proclaim with a stale leader key", err, "election: not leader")
	_, err = ec.Proclaim(ctx, &v3electionpb.ProclaimRequest{Value: []byte("x")})
	expectUnknown("proclaim without a leader key", err, `"leader" field must be provided`)
	_, err = ec.Resign(ctx, &v3electionpb.ResignRequest{})
	expectUnknown("resign without a leader key", err, `"leader" field must be provided`)
	_, err = ec.Leader(ctx, &v3electionpb.LeaderRequest{Name: []byte("nobody")})
	expectUnknown("leader of an empty election", err, "election: no leader")
	_, err = ec.Campaign(ctx, &v3electionpb.CampaignRequest{Name: name, Lease: 12345, Value: []byte("x")})
	expectUnknown("campaign with an unknown lease", err, "etcdserver: requested lease not found")
	fmt.Println("ok stale leader keys, missing leader keys, no leader and unknown leases")

	// With no leader, Observe waits for the next candidate.
	if _, err := ec.Resign(ctx, &v3electionpb.ResignRequest{Leader: c2.r.Leader}); err != nil {
		fail("resign: %v", err)
	}
	if _, err := ec.Campaign(ctx, &v3electionpb.CampaignRequest{Name: name, Lease: l1, Value: []byte("five")}); err != nil {
		fail("campaign: %v", err)
	}
	expectObserved("five")
	fmt.Println("ok observe follows the election through a time without a leader")
}
