// The lease tutorial's first step: grant a 30 s lease and put /tmp/pid on it, with Go's clientv3.
// As the tutorial has it but for the endpoint, which comes from the first argument.
package main

import (
	"context"
	"log"
	"os"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func main() {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{os.Args[1]},
		DialTimeout: 5 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()

	resp, err := cli.Grant(context.TODO(), 30)
	if err != nil {
		log.Fatal(err)
	}

	_, err = cli.Put(context.TODO(), "/tmp/pid", "2187", clientv3.WithLease(resp.ID))
	if err != nil {
		log.Fatal(err)
	}
}
