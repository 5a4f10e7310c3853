// A load generator for etcd v3 servers on Go's clientv3 (Debian's etcd 3.4 sources, GOPATH mode), used
// by run.sh to put leasekv-server and etcd 3.4 side by side. Each subcommand prints one JSON line.
//
//	loadgen start [-stderr-addr | -endpoint HOST:PORT] -- SERVER ARGS...
//	    spawns the server, puts one key, and reports the milliseconds from spawn to that put's answer;
//	    then stops the server (SIGTERM). With -stderr-addr the address is read from the server's
//	    "serving insecure client requests on ADDR," line (port 0); otherwise the port is polled with
//	    plain TCP connects before the client dials, so gRPC's reconnect back-off (1 s) never counts.
//	loadgen fill -endpoint A -keys N
//	    puts N keys /bench/fill/%08d with 64-byte values (64 workers).
//	loadgen run -endpoint A -workload put|get|lease|txn -clients N [-seconds S] [-per-conn K]
//	    N workers, each with one request in flight, for S seconds; one clientv3 client (one gRPC
//	    connection) per K workers. Reports throughput, p50/p99 latency, and the CPU taken meanwhile by the
//	    server (-server-pid), by this generator, and by everything else on the machine.
//	loadgen watch -endpoint A [-watchers 100] [-watch-conns 4] [-writers 64] [-seconds S]
//	    watchers of one prefix, writers putting under it for S seconds; reports the events delivered per
//	    second, from the first put to the last event received. Enough writers that the delivery, not
//	    the writes, is the limit (with 4 writers etcd's synced puts capped what it had to deliver).
//
// Workloads (64-byte values): put = a new key each time; get = a random key of the fill; lease = grant a
// 600 s lease, then put a new key on it (one op, its latency both calls'); txn = compare-and-swap: if the
// worker's own key still has the mod revision it last wrote, put a new value (always succeeds, as an
// uncontended update does).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
	"google.golang.org/grpc/grpclog"
)

var value = strings.Repeat("v", 64)

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
	os.Exit(1)
}

func emit(m map[string]interface{}) {
	b, err := json.Marshal(m)
	if err != nil {
		die("%v", err)
	}
	fmt.Println(string(b))
}

func newClient(endpoint string) *clientv3.Client {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 20 * time.Second})
	if err != nil {
		die("connecting to %s: %v", endpoint, err)
	}
	return c
}

// ---- start ----

var servingLine = regexp.MustCompile(`serving insecure client requests on ([^,]+),`)

func cmdStart(args []string) {
	fs := flag.NewFlagSet("start", flag.ExitOnError)
	fromStderr := fs.Bool("stderr-addr", false, "read the bound address from the server's stderr")
	endpoint := fs.String("endpoint", "", "the address the server will listen on")
	fs.Parse(args)
	argv := fs.Args()
	if len(argv) == 0 || (*fromStderr == (*endpoint != "")) {
		die("start: give -stderr-addr or -endpoint, then -- SERVER ARGS...")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		die("%v", err)
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		die("spawning %s: %v", argv[0], err)
	}
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	addr := *endpoint
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	deadline := t0.Add(30 * time.Second)
	if *fromStderr {
		select {
		case addr = <-found:
		case <-time.After(time.Until(deadline)):
			stop()
			die("start: no address printed within 30 s")
		}
	} else {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				stop()
				die("start: %s not listening within 30 s", addr)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	listening := time.Since(t0)
	cli := newClient(addr)
	dialed := time.Since(t0)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	_, err = cli.Put(ctx, "/bench/start", value)
	cancel()
	elapsed := time.Since(t0)
	cpu := taskCPU(cmd.Process.Pid)
	cli.Close()
	stop()
	if err != nil {
		die("start: put: %v", err)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	// listening_ms: the address printed (or the port accepting); dialed_ms: the client connected;
	// server_cpu_ms: CPU time the server's threads had used by the put's answer (what a quiet machine
	// would take at least; the rest of start_ms is waiting, for the CPU among other things).
	emit(map[string]interface{}{"start_ms": ms(elapsed), "listening_ms": ms(listening), "dialed_ms": ms(dialed),
		"server_cpu_ms": ms(cpu)})
}

// ---- CPU accounting (Linux /proc) ----

// taskCPU sums the CPU time of the live threads of process pid (schedstat: nanoseconds on a CPU).
func taskCPU(pid int) time.Duration {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, _ := os.ReadDir(dir)
	var total int64
	for _, t := range tasks {
		if b, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat"); err == nil {
			if f := strings.Fields(string(b)); len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				total += n
			}
		}
	}
	return time.Duration(total)
}

type cpuSample struct {
	at       time.Time
	busy     int64 // jiffies the whole machine spent busy (all cores)
	server   int64 // jiffies of the server process
	selfUser time.Duration
}

func readCPU(pid int) cpuSample {
	s := cpuSample{at: time.Now()}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		// cpu user nice system idle iowait irq softirq steal ...
		for i, v := range f[1:] {
			if i == 3 || i == 4 || i >= 8 {
				continue
			}
			n, _ := strconv.ParseInt(v, 10, 64)
			s.busy += n
		}
	}
	if pid > 0 {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			str := string(b)
			f := strings.Fields(str[strings.LastIndexByte(str, ')')+2:])
			u, _ := strconv.ParseInt(f[11], 10, 64)
			k, _ := strconv.ParseInt(f[12], 10, 64)
			s.server = u + k
		}
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	s.selfUser = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return s
}

// cpuShares returns the cores (1.0 = one core busy all along) the server, this generator and everything
// else used between a and b. /proc counts in clock ticks of 10 ms, so short windows are coarse.
func cpuShares(a, b cpuSample) (server, gen, others float64) {
	const tick = 0.01
	wall := b.at.Sub(a.at).Seconds()
	server = float64(b.server-a.server) * tick / wall
	gen = (b.selfUser - a.selfUser).Seconds() / wall
	others = float64(b.busy-a.busy)*tick/wall - server - gen
	if others < 0 {
		others = 0
	}
	return
}

// ---- fill ----

func cmdFill(args []string) {
	fs := flag.NewFlagSet("fill", flag.ExitOnError)
	endpoint := fs.String("endpoint", "", "server address")
	keys := fs.Int("keys", 100000, "how many keys")
	workers := fs.Int("workers", 64, "concurrent puts")
	fs.Parse(args)
	clients := clientsFor(*endpoint, *workers, 16)
	var next int64 = -1
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func(cli *clientv3.Client) {
			defer wg.Done()
			for {
				i := atomic.AddInt64(&next, 1)
				if i >= int64(*keys) {
					return
				}
				if _, err := cli.Put(context.Background(), fmt.Sprintf("/bench/fill/%08d", i), value); err != nil {
					die("fill: %v", err)
				}
			}
		}(clients[w/16])
	}
	wg.Wait()
	emit(map[string]interface{}{"filled": *keys, "seconds": time.Since(t0).Seconds()})
}

func clientsFor(endpoint string, workers, perConn int) []*clientv3.Client {
	n := (workers + perConn - 1) / perConn
	out := make([]*clientv3.Client, n)
	for i := range out {
		out[i] = newClient(endpoint)
	}
	return out
}

// ---- run ----

type op func(ctx context.Context) error

// makeOp returns worker w's operation for the workload. Keys are unique to this run (tag) and worker.
func makeOp(cli *clientv3.Client, workload, tag string, w, fillKeys int) op {
	rng := rand.New(rand.NewSource(int64(w)*7919 + time.Now().UnixNano()))
	seq := 0
	switch workload {
	case "put":
		return func(ctx context.Context) error {
			seq++
			_, err := cli.Put(ctx, fmt.Sprintf("/bench/put/%s/%03d/%08d", tag, w, seq), value)
			return err
		}
	case "get":
		return func(ctx context.Context) error {
			r, err := cli.Get(ctx, fmt.Sprintf("/bench/fill/%08d", rng.Intn(fillKeys)))
			if err == nil && len(r.Kvs) != 1 {
				err = fmt.Errorf("get: key missing (was the fill done?)")
			}
			return err
		}
	case "lease":
		return func(ctx context.Context) error {
			seq++
			l, err := cli.Grant(ctx, 600)
			if err != nil {
				return err
			}
			_, err = cli.Put(ctx, fmt.Sprintf("/bench/lease/%s/%03d/%08d", tag, w, seq), value, clientv3.WithLease(l.ID))
			return err
		}
	case "txn":
		key := fmt.Sprintf("/bench/cas/%s/%03d", tag, w)
		r, err := cli.Put(context.Background(), key, value)
		if err != nil {
			die("txn: initial put: %v", err)
		}
		rev := r.Header.Revision
		return func(ctx context.Context) error {
			t, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
				Then(clientv3.OpPut(key, value)).Commit()
			if err != nil {
				return err
			}
			if !t.Succeeded {
				return fmt.Errorf("txn: compare failed (mod revision %d)", rev)
			}
			rev = t.Header.Revision
			return nil
		}
	}
	die("unknown workload %q", workload)
	return nil
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return float64(sorted[i].Nanoseconds()) / 1000
}

func cmdRun(args []string) {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	endpoint := fs.String("endpoint", "", "server address")
	workload := fs.String("workload", "put", "put, get, lease or txn")
	workers := fs.Int("clients", 1, "concurrent workers, one request in flight each")
	perConn := fs.Int("per-conn", 16, "workers sharing one clientv3 client (one gRPC connection)")
	seconds := fs.Float64("seconds", 3, "how long to measure")
	fillKeys := fs.Int("fill-keys", 100000, "keys the fill put (get draws from them)")
	pid := fs.Int("server-pid", 0, "the server's process id, for its CPU time")
	label := fs.String("label", "", "copied into the output")
	fs.Parse(args)

	clients := clientsFor(*endpoint, *workers, *perConn)
	tag := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	ops := make([]op, *workers)
	for w := range ops {
		ops[w] = makeOp(clients[w / *perConn], *workload, tag, w, *fillKeys)
	}
	lat := make([][]time.Duration, *workers)
	errs := make([]int, *workers)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := make(chan struct{})
	var stopFlag int32
	for w := 0; w < *workers; w++ {
		lat[w] = make([]time.Duration, 0, 1<<14)
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			<-start
			ctx := context.Background()
			for atomic.LoadInt32(&stopFlag) == 0 {
				t := time.Now()
				err := ops[w](ctx)
				d := time.Since(t)
				if err != nil {
					errs[w]++
					firstErr.Store(err.Error())
					continue
				}
				lat[w] = append(lat[w], d)
			}
		}(w)
	}
	a := readCPU(*pid)
	close(start)
	time.Sleep(time.Duration(*seconds * float64(time.Second)))
	atomic.StoreInt32(&stopFlag, 1)
	b := readCPU(*pid)
	wg.Wait()
	for _, c := range clients {
		c.Close()
	}
	var all []time.Duration
	nerr := 0
	for w := range lat {
		all = append(all, lat[w]...)
		nerr += errs[w]
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	server, gen, others := cpuShares(a, b)
	wall := b.at.Sub(a.at).Seconds()
	out := map[string]interface{}{
		"label": *label, "workload": *workload, "clients": *workers, "conns": len(clients),
		"ops": len(all), "ops_per_s": float64(len(all)) / wall, "p50_us": percentile(all, 0.50),
		"p99_us": percentile(all, 0.99), "errors": nerr,
		"server_cores": server, "gen_cores": gen, "other_cores": others,
	}
	if e, ok := firstErr.Load().(string); ok {
		out["first_error"] = e
	}
	emit(out)
}

// ---- watch ----

func cmdWatch(args []string) {
	fs := flag.NewFlagSet("watch", flag.ExitOnError)
	endpoint := fs.String("endpoint", "", "server address")
	watchers := fs.Int("watchers", 100, "watchers of the prefix")
	watchConns := fs.Int("watch-conns", 4, "clientv3 clients the watchers are spread over (one watch stream each)")
	writers := fs.Int("writers", 64, "concurrent writers (16 per clientv3 client of their own)")
	seconds := fs.Float64("seconds", 2, "how long the writers put")
	pid := fs.Int("server-pid", 0, "the server's process id, for its CPU time")
	label := fs.String("label", "", "copied into the output")
	fs.Parse(args)

	tag := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	prefix := "/bench/watch/" + tag + "/"
	wclients := make([]*clientv3.Client, *watchConns)
	for i := range wclients {
		wclients[i] = newClient(*endpoint)
	}
	ctx, cancel := context.WithCancel(context.Background())
	counts := make([]int64, *watchers)
	responses := make([]int64, *watchers) // responses carrying events, per watcher
	last := make([]int64, *watchers)      // unix nanoseconds of each watcher's last event
	var created sync.WaitGroup
	var finished int32 // set before the watches are cancelled
	for i := 0; i < *watchers; i++ {
		created.Add(1)
		ch := wclients[i%*watchConns].Watch(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
		go func(i int, ch clientv3.WatchChan) {
			first := true
			for r := range ch {
				if first && r.Created {
					first = false
					created.Done()
					continue
				}
				if err := r.Err(); err != nil && atomic.LoadInt32(&finished) == 0 {
					die("watch: %v", err)
				}
				atomic.AddInt64(&counts[i], int64(len(r.Events)))
				atomic.AddInt64(&responses[i], 1)
				atomic.StoreInt64(&last[i], time.Now().UnixNano())
			}
		}(i, ch)
	}
	created.Wait()

	writeClients := clientsFor(*endpoint, *writers, 16)
	var puts int64
	var stopFlag int32
	var wg sync.WaitGroup
	a := readCPU(*pid)
	t0 := time.Now()
	for w := 0; w < *writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for seq := 0; atomic.LoadInt32(&stopFlag) == 0; seq++ {
				if _, err := writeClients[w/16].Put(context.Background(), fmt.Sprintf("%s%03d/%08d", prefix, w, seq), value); err != nil {
					die("watch: put: %v", err)
				}
				atomic.AddInt64(&puts, 1)
			}
		}(w)
	}
	time.Sleep(time.Duration(*seconds * float64(time.Second)))
	atomic.StoreInt32(&stopFlag, 1)
	wg.Wait()
	writeEnd := time.Now()
	expected := puts * int64(*watchers)
	drainDeadline := writeEnd.Add(30 * time.Second)
	var got int64
	for {
		got = 0
		for i := range counts {
			got += atomic.LoadInt64(&counts[i])
		}
		if got >= expected || time.Now().After(drainDeadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b := readCPU(*pid)
	var lastNs, nresp int64
	for i := range responses {
		nresp += atomic.LoadInt64(&responses[i])
	}
	for i := range last {
		if l := atomic.LoadInt64(&last[i]); l > lastNs {
			lastNs = l
		}
	}
	atomic.StoreInt32(&finished, 1)
	cancel()
	for _, c := range writeClients {
		c.Close()
	}
	for _, c := range wclients {
		c.Close()
	}
	span := time.Unix(0, lastNs).Sub(t0).Seconds()
	server, gen, others := cpuShares(a, b)
	emit(map[string]interface{}{
		"label": *label, "workload": "watch", "watchers": *watchers, "conns": *watchConns,
		"puts": puts, "events": got, "expected": expected, "events_per_s": float64(got) / span,
		"puts_per_s": float64(puts) / writeEnd.Sub(t0).Seconds(), "drain_s": time.Unix(0, lastNs).Sub(writeEnd).Seconds(),
		"events_per_response": float64(got) / float64(nresp), "server_cores": server, "gen_cores": gen,
		"other_cores": others,
	})
}

func main() {
	// clientv3's gRPC logs reconnects at INFO; a server stopped after its measurement is not news.
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, os.Stderr))
	if len(os.Args) < 2 {
		die("usage: loadgen start|fill|run|watch ...")
	}
	switch os.Args[1] {
	case "start":
		cmdStart(os.Args[2:])
	case "fill":
		cmdFill(os.Args[2:])
	case "run":
		cmdRun(os.Args[2:])
	case "watch":
		cmdWatch(os.Args[2:])
	default:
		die("unknown subcommand %q", os.Args[1])
	}
}
