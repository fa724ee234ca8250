// Package cli is the mlserve command line: `mlserve serve` runs the server,
// every other command is a client of a running server through package api.
// Each command lives in its own file.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mlserve/mlserve/api"
)

// Version is the mlserve version, set at build time with
// -ldflags "-X github.com/mlserve/mlserve/internal/cli.Version=...".
var Version = "dev"

// globals are the flags every command shares.
type globals struct {
	server string
}

// NewRoot returns the mlserve command tree.
func NewRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "mlserve",
		Short: "Serve scikit-learn and ONNX text classifiers over HTTP",
		Long: `mlserve serves text-classification models trained in Python: scikit-learn
.joblib/.pkl files are read natively in Go (no Python, no pickle code execution).

Run a server with 'mlserve serve'; the other commands talk to a running server
at --server (or MLSERVE_SERVER, default ` + api.DefaultServer + `).`,
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	def := os.Getenv("MLSERVE_SERVER")
	if def == "" {
		def = api.DefaultServer
	}
	root.PersistentFlags().StringVar(&g.server, "server", def, "address of the mlserve server (env MLSERVE_SERVER)")
	root.AddCommand(
		newServeCmd(),
		newLoadCmd(g),
		newListCmd(g),
		newUnloadCmd(g),
		newPredictCmd(g),
		newStatsCmd(g),
		newBenchmarkCmd(g),
	)
	return root
}

// client returns the API client for the global flags; the admin token comes
// from MLSERVE_ADMIN_TOKEN.
func (g *globals) client() (*api.Client, error) {
	return api.NewClient(g.server, os.Getenv("MLSERVE_ADMIN_TOKEN"), nil)
}

// Main runs the command line with os.Args and returns the exit status.
func Main() int {
	return Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
}

// Run runs the command line with args, writing to stdout and stderr, and
// returns the exit status. SIGINT and SIGTERM cancel ctx.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "mlserve:", message(err))
		return 1
	}
	return 0
}

// message is what the user reads for err.
func message(err error) string {
	var ae *api.Error
	if errors.As(err, &ae) {
		return fmt.Sprintf("server answered %d: %s", ae.StatusCode, ae.Error())
	}
	return err.Error()
}
