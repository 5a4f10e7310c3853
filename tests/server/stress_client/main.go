// A client that holds streams open until it is killed: stress_kill_test.cpp starts several, waits for
// "ready", and SIGKILLs them with their streams busy, then checks the server let go of everything.
//
//	stress_client ADDR NAME
//
// Two clientv3 clients (two connections), each with a keep-alive stream on a lease of its own and one
// watch stream carrying four watchers of k/, and each putting keys on its lease without pause. "ready"
// is printed once every watcher is created and every lease was renewed once.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func main() {
	addr, name := os.Args[1], os.Args[2]
	ctx := context.Background()
	for c := 0; c < 2; c++ {
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: 30 * time.Second})
		if err != nil {
			log.Fatal(err)
		}
		lease, err := cli.Grant(ctx, 60)
		if err != nil {
			log.Fatal(err)
		}
		alive, err := cli.KeepAlive(ctx, lease.ID)
		if err != nil {
			log.Fatal(err)
		}
		if _, ok := <-alive; !ok {
			log.Fatal("keep-alive ended")
		}
		go func() {
			for range alive {
			}
		}()
		for w := 0; w < 4; w++ {
			events := cli.Watch(ctx, "k/", clientv3.WithPrefix(), clientv3.WithCreatedNotify())
			if r := <-events; !r.Created {
				log.Fatalf("watch not created: %v", r.Err())
			}
			go func() {
				for range events {
				}
			}()
		}
		go func(cli *clientv3.Client, c int) {
			for i := 0; ; i++ {
				key := fmt.Sprintf("k/%s/%d/%d", name, c, i)
				if _, err := cli.Put(ctx, key, "v", clientv3.WithLease(lease.ID)); err != nil {
					log.Fatal(err)
				}
			}
		}(cli, c)
	}
	fmt.Println("ready")
	select {}
}
