package parity

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
)

func TestReadTexts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "texts.json")
	if err := os.WriteFile(file, []byte(`["a", "é\n"]`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, stdin string
		want              []string
		wantErr           string
	}{
		{"file", file, "", []string{"a", "é\n"}, ""},
		{"stdin", "-", `["x"]`, []string{"x"}, ""},
		{"not an array", "-", `{"x": 1}`, nil, "JSON array of strings"},
		{"missing file", filepath.Join(t.TempDir(), "nope"), "", nil, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadTexts(tt.path, strings.NewReader(tt.stdin))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestPredictions(t *testing.T) {
	in := []model.Prediction{{Label: "spam", Index: 1, Confidence: 0.9, Probabilities: []float64{0.1, 0.9}, Decision: []float64{2.2}}}
	want := []Prediction{{"spam", 1, 0.9, []float64{0.1, 0.9}, []float64{2.2}}}
	if got := Predictions(in); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}
