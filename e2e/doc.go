// Package e2e tests the mlserve binary end to end: it builds cmd/mlserve,
// runs `mlserve serve` on the sample repository copied into a temporary
// directory, and drives it with the CLI and the api client (CLI output, hot
// swap under load, restart). `go test -short` shortens the load test.
package e2e
