package onnx

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mlserve/mlserve/internal/model"
)

// TestSpecMaxLengthBound checks that max_length, which sizes every padded
// batch, is bounded: at the limit it parses, above it (or negative) it is
// refused naming the key, without ONNX Runtime.
func TestSpecMaxLengthBound(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string // "" parses
	}{
		{12, ""}, {MaxLengthLimit, ""},
		{MaxLengthLimit + 1, "above the limit"}, {1 << 40, "above the limit"}, {-1, "must not be negative"},
	} {
		src := fmt.Sprintf("tokenizer:\n  type: regex\n  vocab: vocab.txt\n  max_length: %d\n  padding: max_length\noutput:\n  kind: logits\n", tc.n)
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(src), &n); err != nil {
			t.Fatal(err)
		}
		_, err := ParseSpec(n.Content[0])
		if tc.want == "" {
			if err != nil {
				t.Errorf("max_length %d: %v", tc.n, err)
			}
			continue
		}
		if !errors.Is(err, model.ErrInvalid) || !strings.Contains(err.Error(), "onnx.tokenizer.max_length") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("max_length %d: error %v, want %q", tc.n, err, tc.want)
		}
	}
}
