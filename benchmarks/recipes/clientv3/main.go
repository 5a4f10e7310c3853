// clientv3's concurrency.Mutex against an etcd v3 endpoint (etcd 3.4 or leasekv-server): lock hand-off
// latency and contended lock throughput, printed as one JSON line per measurement, in the shape
// lock_bench (the C++ side, in process) prints.
//
//	recipes handoff ADDR ROUNDS        hand-off latency: two sessions pass the lock back and forth
//	recipes throughput ADDR N SECONDS  N contenders (a session each) lock and unlock as fast as they can
//
// Hand-off latency is measured from just before the holder's Unlock is sent to the moment the waiter's
// Lock returns; the median, p90 and p99 over ROUNDS hand-offs are printed, in microseconds.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
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

func session(cli *clientv3.Client) *concurrency.Session {
	s, err := concurrency.NewSession(cli, concurrency.WithTTL(30))
	if err != nil {
		fail("session: %v", err)
	}
	return s
}

func emit(m map[string]interface{}) {
	b, _ := json.Marshal(m)
	fmt.Println(string(b))
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

// handoff: A holds; B waits (its Lock in flight); A stamps and unlocks; B's Lock returns and stamps.
// Then the roles swap. Each contender has a client of its own, as two processes would.
func handoff(addr string, rounds int) {
	ctx := context.Background()
	clis := []*clientv3.Client{connect(addr), connect(addr)}
	ms := []*concurrency.Mutex{}
	for _, c := range clis {
		ms = append(ms, concurrency.NewMutex(session(c), "/bench-handoff"))
	}
	var samples []float64
	holder := 0
	if err := ms[holder].Lock(ctx); err != nil {
		fail("lock: %v", err)
	}
	for i := 0; i < rounds; i++ {
		waiter := 1 - holder
		got := make(chan time.Time)
		go func() {
			if err := ms[waiter].Lock(ctx); err != nil {
				fail("lock: %v", err)
			}
			got <- time.Now()
		}()
		// Until the waiter's key is queued (2 keys under the prefix).
		for {
			r, err := clis[holder].Get(ctx, "/bench-handoff/", clientv3.WithPrefix(), clientv3.WithCountOnly())
			if err != nil {
				fail("count: %v", err)
			}
			if r.Count == 2 {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		time.Sleep(2 * time.Millisecond) // the waiter's watch is set up
		start := time.Now()
		if err := ms[holder].Unlock(ctx); err != nil {
			fail("unlock: %v", err)
		}
		end := <-got
		samples = append(samples, float64(end.Sub(start).Nanoseconds())/1000)
		holder = waiter
	}
	sort.Float64s(samples)
	emit(map[string]interface{}{"bench": "handoff", "rounds": rounds, "p50_us": percentile(samples, 0.5),
		"p90_us": percentile(samples, 0.9), "p99_us": percentile(samples, 0.99)})
}

// throughput: N contenders, each with its own client and session, lock and unlock for SECONDS.
func throughput(addr string, n int, seconds float64) {
	var total int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	start := time.Now()
	var holders int32
	for i := 0; i < n; i++ {
		cli := connect(addr)
		m := concurrency.NewMutex(session(cli), "/bench-throughput")
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for time.Now().Before(deadline) {
				if err := m.Lock(ctx); err != nil {
					fail("lock: %v", err)
				}
				if atomic.AddInt32(&holders, 1) != 1 {
					fail("two holders at once")
				}
				atomic.AddInt32(&holders, -1)
				if err := m.Unlock(ctx); err != nil {
					fail("unlock: %v", err)
				}
				atomic.AddInt64(&total, 1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	emit(map[string]interface{}{"bench": "throughput", "contenders": n, "locks": total,
		"locks_per_s": float64(total) / elapsed})
}

func main() {
	if len(os.Args) < 4 {
		fail("usage: recipes handoff ADDR ROUNDS | recipes throughput ADDR N SECONDS")
	}
	switch os.Args[1] {
	case "handoff":
		rounds, _ := strconv.Atoi(os.Args[3])
		handoff(os.Args[2], rounds)
	case "throughput":
		n, _ := strconv.Atoi(os.Args[3])
		s, _ := strconv.ParseFloat(os.Args[4], 64)
		throughput(os.Args[2], n, s)
	default:
		fail("unknown mode %q", os.Args[1])
	}
}
