// Clients of leasekv-server's locks and elections, for tests/server/concurrency.sh: clientv3/concurrency's
// Mutex and Election (the recipes clientv3 runs itself, over KV, Lease and Watch) between processes, and
// the server-side v3lockpb.Lock and v3electionpb.Election services.
//
//	concurrency mutex ADDR NAME ID WAITERS      lock, claim a marker, hold until WAITERS others queue, unlock
//	concurrency campaign ADDR NAME VALUE END     lead, then resign or close the session when the file END appears
//	concurrency observe ADDR NAME N             print the first N values Observe reports
//	concurrency services ADDR                    the server-side Lock and Election services
//
// Each prints "ok ..." lines the driver reads and exits 1 with a message on any failure.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/clientv3/concurrency"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func connect(addr string) *clientv3.Client {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: 10 * time.Second})
	if err != nil {
		fail("connect: %v", err)
	}
	return cli
}

// Deadline for any single wait: generous, for a loaded machine under the sanitizers.
const patience = 60 * time.Second

func main() {
	if len(os.Args) < 3 {
		fail("usage: concurrency mutex|campaign|observe|services ADDR ...")
	}
	cli := connect(os.Args[2])
	defer cli.Close()
	switch os.Args[1] {
	case "mutex":
		waiters, err := strconv.Atoi(os.Args[5])
		if err != nil {
			fail("waiters: %v", err)
		}
		mutex(cli, os.Args[3], os.Args[4], int64(waiters))
	case "campaign":
		campaign(cli, os.Args[3], os.Args[4], os.Args[5])
	case "observe":
		n, _ := strconv.Atoi(os.Args[4])
		observe(cli, os.Args[3], n)
	case "services":
		services(cli)
	default:
		fail("unknown command %q", os.Args[1])
	}
}

// mutex takes the lock NAME with a session of its own, claims the marker key NAME-holder (which must be
// free: nobody else holds the lock), holds the lock until WAITERS other sessions wait for it (and 100 ms
// more, time for a broken lock to let one in), checks the marker is still its own, frees it and unlocks.
// It prints "locked ID <unix ns>" once it holds the lock and "unlocking ID <unix ns>" before it lets go.
func mutex(cli *clientv3.Client, name, id string, waiters int64) {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	s, err := concurrency.NewSession(cli, concurrency.WithTTL(10))
	if err != nil {
		fail("session: %v", err)
	}
	defer s.Close()
	m := concurrency.NewMutex(s, name)
	if err := m.Lock(ctx); err != nil {
		fail("lock: %v", err)
	}
	fmt.Printf("locked %s %d\n", id, time.Now().UnixNano())
	marker := name + "-holder"
	r, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.Version(marker), "=", 0)).
		Then(clientv3.OpPut(marker, id)).Else(clientv3.OpGet(marker)).Commit()
	if err != nil {
		fail("claim marker: %v", err)
	}
	if !r.Succeeded {
		fail("%s holds the lock but %s", id, r.Responses[0].GetResponseRange().Kvs[0].Value)
	}
	// The key the lock is held by is the oldest under the prefix, and it is ours.
	owner, err := cli.Get(ctx, name+"/", clientv3.WithFirstCreate()...)
	if err != nil || len(owner.Kvs) != 1 || string(owner.Kvs[0].Key) != m.Key() {
		fail("owner key: %v %v, mine %s", owner, err, m.Key())
	}
	for {
		r, err := cli.Get(ctx, name+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			fail("count waiters: %v", err)
		}
		if r.Count >= waiters+1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if waiters > 0 {
		time.Sleep(100 * time.Millisecond)
	}
	r, err = cli.Txn(ctx).If(clientv3.Compare(clientv3.Value(marker), "=", id)).Then(clientv3.OpDelete(marker)).Commit()
	if err != nil || !r.Succeeded {
		fail("%s lost the marker while holding the lock (%v)", id, err)
	}
	fmt.Printf("unlocking %s %d\n", id, time.Now().UnixNano())
	if err := m.Unlock(ctx); err != nil {
		fail("unlock: %v", err)
	}
}

// campaign leads election NAME with VALUE, prints "leader VALUE <unix ns>", and once the file END exists
// gives leadership up: by Resign if END holds "resign", else by closing its session (its lease is revoked,
// its key with it). It prints "leaving VALUE <unix ns>" first.
func campaign(cli *clientv3.Client, name, value, end string) {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	s, err := concurrency.NewSession(cli, concurrency.WithTTL(10))
	if err != nil {
		fail("session: %v", err)
	}
	e := concurrency.NewElection(s, name)
	if err := e.Campaign(ctx, value); err != nil {
		fail("campaign: %v", err)
	}
	fmt.Printf("leader %s %d\n", value, time.Now().UnixNano())
	l, err := e.Leader(ctx)
	if err != nil || string(l.Kvs[0].Value) != value {
		fail("leader after winning: %v %v", l, err)
	}
	var how []byte
	for {
		if how, err = os.ReadFile(end); err == nil {
			break
		}
		if ctx.Err() != nil {
			fail("no end file")
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("leaving %s %d\n", value, time.Now().UnixNano())
	if string(how) == "resign" {
		if err := e.Resign(ctx); err != nil {
			fail("resign: %v", err)
		}
	}
	if err := s.Close(); err != nil {
		fail("close session: %v", err)
	}
}

// observe prints "observed VALUE" for the first N responses of Observe on election NAME.
func observe(cli *clientv3.Client, name string, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	s, err := concurrency.NewSession(cli)
	if err != nil {
		fail("session: %v", err)
	}
	defer s.Close()
	ch := concurrency.NewElection(s, name).Observe(ctx)
	for i := 0; i < n; i++ {
		r, ok := <-ch
		if !ok {
			fail("observe ended after %d", i)
		}
		fmt.Printf("observed %s\n", r.Kvs[0].Value)
	}
}
