// etcd_workloads runs leasekv's standard workloads on etcd 3.4's own in-process packages
// (go.etcd.io/etcd/mvcc over a temporary bbolt backend, and go.etcd.io/etcd/lease), and prints
// one JSON line per workload in the same shape as leasekv_workloads, so compare.sh can pair them.
//
// It is built in GOPATH mode against Debian's golang-etcd-server-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o etcd_workloads main.go
//
// The server around these packages (raft, gRPC, the WAL) is not included: the figures are a lower
// bound on what a real etcd costs, which is the fair comparison for an in-process store.
package main

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/lease"
	"go.etcd.io/etcd/mvcc"
	"go.etcd.io/etcd/mvcc/backend"
	"go.uber.org/zap"
)

// The backend's batching as an etcd server configures it by default.
const (
	batchInterval = 100 * time.Millisecond
	batchLimit    = 10000
)

type noIndex struct{}

func (noIndex) ConsistentIndex() uint64 { return 0 }

func podKey(i int) []byte { return []byte(fmt.Sprintf("/registry/pods/%08d", i)) }

// makePodKey makes the same key in a new slice without fmt, for the kv workloads: as leasekv's runner does,
// so neither side pays for reading a table of a million keys in shuffled order (two cache misses per
// operation). The slice is new each time because etcd's index keeps the key it is given.
func makePodKey(i int) []byte {
	const prefix = "/registry/pods/"
	b := make([]byte, len(prefix)+8)
	copy(b, prefix)
	for d := len(b) - 1; d >= len(prefix); d-- {
		b[d] = byte('0' + i%10)
		i /= 10
	}
	return b
}

func report(name string, ops int, d time.Duration) {
	ns := float64(d.Nanoseconds())
	fmt.Printf("{\"workload\":\"%s\",\"ops\":%d,\"ns_per_op\":%.1f,\"ops_per_sec\":%.0f}\n", name, ops,
		ns/float64(ops), float64(ops)*1e9/ns)
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

type env struct {
	be   backend.Backend
	path string
	le   lease.Lessor
	kv   mvcc.ConsistentWatchableKV
}

func open(lg *zap.Logger) *env {
	be, path := backend.NewTmpBackend(batchInterval, batchLimit)
	le := lease.NewLessor(lg, be, nil, lease.LessorConfig{MinLeaseTTL: 1})
	kv := mvcc.New(lg, be, le, nil, noIndex{}, mvcc.StoreConfig{})
	return &env{be: be, path: path, le: le, kv: kv}
}

func (e *env) close() {
	e.kv.Close()
	e.le.Stop()
	e.be.Close()
	os.Remove(e.path)
}

func kvWorkloads(lg *zap.Logger, n, ranges int, rng *rand.Rand) {
	value := make([]byte, 64)
	for i := range value {
		value[i] = 'v'
	}
	order := rng.Perm(n)

	before := heapInUse()
	e := open(lg)
	defer e.close()

	t0 := time.Now()
	for _, i := range order {
		e.kv.Put(makePodKey(i), value, lease.NoLease)
	}
	report("put", n, time.Since(t0))
	after := heapInUse()

	rng.Shuffle(n, func(a, b int) { order[a], order[b] = order[b], order[a] })
	t0 = time.Now()
	for _, i := range order {
		e.kv.Put(makePodKey(i), value, lease.NoLease)
	}
	report("overwrite", n, time.Since(t0))

	rng.Shuffle(n, func(a, b int) { order[a], order[b] = order[b], order[a] })
	found := 0
	t0 = time.Now()
	for _, i := range order {
		r, err := e.kv.Range(makePodKey(i), nil, mvcc.RangeOptions{})
		if err != nil {
			panic(err)
		}
		found += len(r.KVs)
	}
	report("get", n, time.Since(t0))
	if found != n {
		panic(fmt.Sprintf("get found %d of %d", found, n))
	}

	span := n - 100
	if span < 1 {
		span = 1
	}
	seen := 0
	t0 = time.Now()
	for r := 0; r < ranges; r++ {
		s := rng.Intn(span)
		res, err := e.kv.Range(podKey(s), podKey(s+100), mvcc.RangeOptions{})
		if err != nil {
			panic(err)
		}
		seen += len(res.KVs)
	}
	report("range100", ranges, time.Since(t0))
	want := 100
	if n < 100 {
		want = n
	}
	if seen != ranges*want {
		panic(fmt.Sprintf("ranges returned %d kvs", seen))
	}
	// Go heap only: bbolt keeps keys and values in its mmap'd file, outside the heap, so this is
	// the index (with the key slices it keeps, made during the puts) and the write buffers (the
	// issue's "≈155 bytes of Go heap per key for its index").
	fmt.Printf("{\"workload\":\"memory\",\"keys\":%d,\"bytes_per_key\":%.1f}\n", n,
		float64(after-before)/float64(n))
}

func leaseWorkloads(lg *zap.Logger, n int, rng *rand.Rand) {
	e := open(lg)
	defer e.close()
	e.le.Promote(0)
	ids := make([]lease.LeaseID, n)
	t0 := time.Now()
	for i := range ids {
		ids[i] = lease.LeaseID(i + 1)
		if _, err := e.le.Grant(ids[i], 3600); err != nil {
			panic(err)
		}
	}
	report("grant", n, time.Since(t0))

	rng.Shuffle(n, func(a, b int) { ids[a], ids[b] = ids[b], ids[a] })
	t0 = time.Now()
	for _, id := range ids {
		if _, err := e.le.Renew(id); err != nil {
			panic(err)
		}
	}
	report("renew", n, time.Since(t0))

	rng.Shuffle(n, func(a, b int) { ids[a], ids[b] = ids[b], ids[a] })
	t0 = time.Now()
	for _, id := range ids {
		if err := e.le.Revoke(id); err != nil {
			panic(err)
		}
	}
	report("revoke", n, time.Since(t0))
}

// storm: leases x keysPerLease keys, every lease due at the same instant. An etcd server revokes
// what its lessor reports on ExpiredLeasesC; here a goroutine does the same without raft.
func storm(lg *zap.Logger, leases, keysPerLease int) {
	e := open(lg)
	defer e.close()
	const ttl = 2
	for l := 0; l < leases; l++ {
		id := lease.LeaseID(l + 1)
		if _, err := e.le.Grant(id, ttl); err != nil {
			panic(err)
		}
		for k := 0; k < keysPerLease; k++ {
			e.kv.Put([]byte(fmt.Sprintf("/storm/%06d/%02d", l, k)), []byte("v"), id)
		}
	}
	// Promotion (becoming leader) starts every lease's TTL now, so all are due together.
	// etcd spreads a pile-up of expiries out on promotion; that is part of what is measured.
	start := time.Now()
	e.le.Promote(0)
	due := start.Add(ttl * time.Second)

	var remaining int64 = int64(leases)
	doneC := make(chan time.Time)
	go func() {
		for ls := range e.le.ExpiredLeasesC() {
			for _, l := range ls {
				if err := e.le.Revoke(l.ID); err == nil {
					if atomic.AddInt64(&remaining, -1) == 0 {
						doneC <- time.Now()
						return
					}
				}
			}
		}
	}()

	type sample struct {
		at time.Time
		d  time.Duration
	}
	var samples []sample
	var stop int32
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		value := []byte("x")
		for i := 0; atomic.LoadInt32(&stop) == 0; i++ {
			s := time.Now()
			e.kv.Put([]byte(fmt.Sprintf("/writer/%d", i%1000)), value, lease.NoLease)
			samples = append(samples, sample{s, time.Since(s)})
		}
	}()
	done := <-doneC
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	r, err := e.kv.Range([]byte("/storm/"), []byte("/storm0"), mvcc.RangeOptions{Count: true})
	if err != nil {
		panic(err)
	}
	var during []float64
	for _, s := range samples {
		if !s.at.Before(due) && !s.at.After(done) {
			during = append(during, float64(s.d.Nanoseconds())/1e3)
		}
	}
	sort.Float64s(during)
	pct := func(p float64) float64 {
		if len(during) == 0 {
			return 0
		}
		return during[int(p*float64(len(during)-1))]
	}
	max := 0.0
	if len(during) > 0 {
		max = during[len(during)-1]
	}
	fmt.Printf("{\"workload\":\"storm\",\"leases\":%d,\"keys\":%d,\"done_after_deadline_ms\":%.2f,"+
		"\"keys_left\":%d,\"writer_puts_during\":%d,\"writer_p50_us\":%.1f,\"writer_p99_us\":%.1f,"+
		"\"writer_max_us\":%.1f}\n", leases, leases*keysPerLease,
		float64(done.Sub(due).Nanoseconds())/1e6, r.Count, len(during), pct(0.5), pct(0.99), max)
}

// openEmpty: a new, empty store (backend file, lessor, mvcc store), as an embedded user gets one.
func openEmpty(lg *zap.Logger, n int) {
	var total time.Duration
	for i := 0; i < n; i++ {
		t0 := time.Now()
		e := open(lg)
		total += time.Since(t0)
		e.close()
	}
	report("open_empty", n, total)
}

func main() {
	keys := flag.Int("keys", 1000000, "keys for put/overwrite/get/range")
	ranges := flag.Int("ranges", 10000, "100-key ranges")
	leases := flag.Int("leases", 1000000, "leases for grant/renew/revoke")
	stormLeases := flag.Int("storm-leases", 10000, "leases in the expiry storm")
	stormKeys := flag.Int("storm-keys", 10, "keys per storm lease")
	opens := flag.Int("opens", 100, "empty stores to open")
	seed := flag.Int64("seed", 42, "shuffle seed")
	only := flag.String("only", "", "kv|lease|storm|open (default: all)")
	flag.Parse()

	lg := zap.NewNop()
	if *only == "" || *only == "kv" {
		kvWorkloads(lg, *keys, *ranges, rand.New(rand.NewSource(*seed)))
	}
	if *only == "" || *only == "lease" {
		leaseWorkloads(lg, *leases, rand.New(rand.NewSource(*seed)))
	}
	if *only == "" || *only == "storm" {
		storm(lg, *stormLeases, *stormKeys)
	}
	if *only == "" || *only == "open" {
		openEmpty(lg, *opens)
	}
}
