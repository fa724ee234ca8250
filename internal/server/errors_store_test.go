package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/mirror"
)

// TestStoreUnavailableIsBadGateway: an upload the s3:// repository's store
// failed or stalled on is a 502 whose message says so, not a bare
// "internal error".
func TestStoreUnavailableIsBadGateway(t *testing.T) {
	err := fmt.Errorf("model repository: publishing to the store: %w: putting s3://b/m/v1/model.joblib: the store stalled", mirror.ErrUnavailable)
	if got := StatusOf(err); got != http.StatusBadGateway {
		t.Fatalf("StatusOf = %d, want 502", got)
	}
	if p := toProblem(err, "", nil); !strings.Contains(p.Error(), "the store stalled") {
		t.Errorf("the problem sent says %q, want the cause", p.Error())
	}
}
