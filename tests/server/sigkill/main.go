// The client side of sigkill.sh: puts under load, recording what the server acknowledged; afterwards,
// checks that every acknowledged put is there.
//
//	sigkill load ADDR PREFIX WORKERS   puts PREFIX/<worker>/<n> from WORKERS goroutines until the server
//	                                   fails them; prints "key value" for each acknowledged put
//	sigkill check ADDR ACKS            every "key value" line of the file ACKS is in the store, with
//	                                   that value; prints how many were checked
package main

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func connect(addr string) *clientv3.Client {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: 30 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	return cli
}

func load(addr, prefix string, workers int) {
	cli := connect(addr)
	defer cli.Close()
	var out sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(time.Now().UnixNano() + int64(w)))
			for n := 0; ; n++ {
				key := fmt.Sprintf("%s/%d/%d", prefix, w, n)
				value := fmt.Sprintf("%d-%d-%x", w, n, rng.Uint64())
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := cli.Put(ctx, key, value)
				cancel()
				if err != nil {
					return // the server is gone: this put may or may not have been applied
				}
				// One write per line, after the acknowledgement.
				out.Lock()
				fmt.Fprintf(os.Stdout, "%s %s\n", key, value)
				out.Unlock()
			}
		}(w)
	}
	wg.Wait()
}

func check(addr, acks string) {
	f, err := os.Open(acks)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), " ", 2)
		if len(parts) != 2 {
			log.Fatalf("bad line %q", sc.Text())
		}
		want[parts[0]] = parts[1]
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	cli := connect(addr)
	defer cli.Close()
	// Everything, a page at a time.
	got := map[string]string{}
	key := "\x00"
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		r, err := cli.Get(ctx, key, clientv3.WithFromKey(), clientv3.WithLimit(1000),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
		cancel()
		if err != nil {
			log.Fatal(err)
		}
		for _, kv := range r.Kvs {
			got[string(kv.Key)] = string(kv.Value)
		}
		if !r.More || len(r.Kvs) == 0 {
			break
		}
		key = string(r.Kvs[len(r.Kvs)-1].Key) + "\x00"
	}
	missing := 0
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			missing++
			if missing <= 10 {
				fmt.Fprintf(os.Stderr, "acknowledged put lost: %s = %s (found %q, present %v)\n", k, v, g, ok)
			}
		}
	}
	if missing > 0 {
		log.Fatalf("%d of %d acknowledged puts lost", missing, len(want))
	}
	fmt.Println(len(want))
}

func main() {
	switch {
	case len(os.Args) == 5 && os.Args[1] == "load":
		workers, err := strconv.Atoi(os.Args[4])
		if err != nil {
			log.Fatal(err)
		}
		load(os.Args[2], os.Args[3], workers)
	case len(os.Args) == 4 && os.Args[1] == "check":
		check(os.Args[2], os.Args[3])
	default:
		log.Fatal("usage: sigkill load ADDR PREFIX WORKERS | sigkill check ADDR ACKS")
	}
}
