// A clientv3 concurrency.Mutex contender for tests/recipes/mixed_contenders_test.cpp, which contends for
// the same lock with leasekv::mutex on the store leasekv-server serves.
//
//	go_contender ADDR NAME ROUNDS
//
// Each round: Lock; claim the marker NAME-holder (it must be free: nobody else holds the lock) and check
// that the previous holder was the C++ side (NAME-last is "cpp"), writing "go" to both; unless this is
// the last round, hold on until another key waits under NAME/ (the C++ side's next round); free the
// marker; Unlock. It prints "ready" once connected, and "locked N" in each round. Any failure exits 1
// with a message on stderr.
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

func main() {
	if len(os.Args) != 4 {
		fail("usage: go_contender ADDR NAME ROUNDS")
	}
	addr, name := os.Args[1], os.Args[2]
	rounds, err := strconv.Atoi(os.Args[3])
	if err != nil {
		fail("rounds: %v", err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: 10 * time.Second})
	if err != nil {
		fail("connect: %v", err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	s, err := concurrency.NewSession(cli, concurrency.WithTTL(10))
	if err != nil {
		fail("session: %v", err)
	}
	defer s.Close()
	m := concurrency.NewMutex(s, name)
	marker, last := name+"-holder", name+"-last"
	fmt.Println("ready")
	for round := 1; round <= rounds; round++ {
		if err := m.Lock(ctx); err != nil {
			fail("lock: %v", err)
		}
		fmt.Printf("locked %d\n", round)
		r, err := cli.Txn(ctx).
			If(clientv3.Compare(clientv3.Version(marker), "=", 0), clientv3.Compare(clientv3.Value(last), "=", "cpp")).
			Then(clientv3.OpPut(marker, "go"), clientv3.OpPut(last, "go")).
			Else(clientv3.OpGet(marker), clientv3.OpGet(last)).Commit()
		if err != nil {
			fail("claim: %v", err)
		}
		if !r.Succeeded {
			fail("round %d: marker %v, last %v", round, r.Responses[0].GetResponseRange().Kvs, r.Responses[1].GetResponseRange().Kvs)
		}
		for round < rounds {
			c, err := cli.Get(ctx, name+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
			if err != nil {
				fail("count: %v", err)
			}
			if c.Count >= 2 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		r, err = cli.Txn(ctx).If(clientv3.Compare(clientv3.Value(marker), "=", "go")).Then(clientv3.OpDelete(marker)).Commit()
		if err != nil || !r.Succeeded {
			fail("round %d: lost the marker while holding the lock (%v)", round, err)
		}
		if err := m.Unlock(ctx); err != nil {
			fail("unlock: %v", err)
		}
	}
}
