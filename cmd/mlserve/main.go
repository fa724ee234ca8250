// Command mlserve serves text-classification models over HTTP and is the
// command-line client of a running server. See `mlserve --help`.
package main

import (
	"os"

	"github.com/mlserve/mlserve/internal/cli"
)

func main() {
	os.Exit(cli.Main())
}
