package server

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/loadgen"
)

// FuzzUnescape checks unescape against encoding/json on the content of a
// JSON string: both accept the same strings and decode them alike.
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{`a\nb`, `\"\\\/\b\f\n\r\t`, `\u00e9`, `\ud83d\ude00`, `\ud800`, `\ud800\u0041`, `\udc00\ud800`,
		`\u12`, `\x`, `\'`, `a\`, `\\`, `\u00`, `\uD83D\uDE00`, `\ud83d\ud83d\ude00`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == '"' }) {
			return // the middleware and str refuse these first
		}
		got, ok := unescape(s)
		var want string
		err := json.Unmarshal([]byte(`"`+s+`"`), &want)
		if ok != (err == nil) || got != want {
			t.Fatalf("unescape(%q) = %q, %v; encoding/json: %q, %v", s, got, ok, want, err)
		}
	})
}

// FuzzDecode checks the fast decoders against encoding/json: a body they
// accept decodes to the same request.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"text":"a","model_version":"m","return_probabilities":true,"timeout_ms":5}`,
		`{"texts":["a","b\n"],"timeout_ms":0}`, ` {"text" : "\u00e9"} `, `{"texts":[]}`, `{"text":"a","text":"b"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		if got, ok := decodePredict(s); ok {
			var want api.PredictRequest
			if err := json.Unmarshal([]byte(s), &want); err != nil || !reflect.DeepEqual(got, want) || got.Text == "" {
				t.Fatalf("decodePredict(%q) = %+v; encoding/json: %+v, %v", s, got, want, err)
			}
		}
		if got, ok := decodeBatch(s); ok {
			var want api.BatchPredictRequest
			if err := json.Unmarshal([]byte(s), &want); err != nil || !reflect.DeepEqual(got, want) || len(got.Texts) == 0 || len(got.Texts) > api.MaxBatchTexts {
				t.Fatalf("decodeBatch(%q) = %+v; encoding/json: %+v, %v", s, got, want, err)
			}
		}
	})
}

// BenchmarkDecode reads a /predict body and a 100-text /batch-predict body
// made of the load generator's e-mails, with the fast decoders and the way
// huma reads them (into a map to validate, then into the struct).
//
//	go test -run '^$' -bench Decode -benchmem ./internal/server
func BenchmarkDecode(b *testing.B) {
	texts := loadgen.Corpus()
	one, _ := json.Marshal(api.PredictRequest{Text: texts[0], ModelVersion: "spam-v1"})
	hundred, _ := json.Marshal(api.BatchPredictRequest{Texts: texts[:100], ModelVersion: "spam-v1"})
	for _, tc := range []struct {
		name string
		body []byte
		fast func(string) bool
		dst  func() any
	}{
		{"predict", one, func(s string) bool { _, ok := decodePredict(s); return ok }, func() any { return new(api.PredictRequest) }},
		{"batch100", hundred, func(s string) bool { _, ok := decodeBatch(s); return ok }, func() any { return new(api.BatchPredictRequest) }},
	} {
		b.Run(tc.name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.body)))
			for b.Loop() {
				if !tc.fast(string(tc.body)) {
					b.Fatal("refused")
				}
			}
		})
		b.Run(tc.name+"/huma-way", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.body)))
			for b.Loop() {
				var m map[string]any
				if json.Unmarshal(tc.body, &m) != nil || json.Unmarshal(tc.body, tc.dst()) != nil {
					b.Fatal("refused")
				}
			}
		})
	}
}
