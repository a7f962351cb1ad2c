// Command shardgen writes a repodata.json as CEP 16 sharded repodata beside it
// (repodata_shards.msgpack.zst and shards/), for examples/bench/sharded.sh:
//
//	go run ./examples/bench/shardgen DIR/linux-64/repodata.json
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/reprobuild/reprobuild/internal/pkgmaker"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: shardgen SUBDIR/repodata.json")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err == nil {
		var n int
		n, err = pkgmaker.WriteShards(filepath.Dir(os.Args[1]), data)
		fmt.Printf("wrote %d shards beside %s\n", n, os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "shardgen:", err)
		os.Exit(1)
	}
}
