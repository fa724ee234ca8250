package server

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/mlserve/mlserve/api"
)

// FuzzUnescape checks unescape against encoding/json on the content of a
// JSON string: both accept the same strings and decode them alike.
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{`a\nb`, `\"\\\/\b\f\n\r\t`, `\u00e9`, `\ud83d\ude00`, `\ud800`, `\ud800\u0041`, `\udc00\ud800`,
		`\u12`, `\x`, `\'`, `a\`, "\t", `\uD83D\uDE00`, `\ud83d\ud83d\ude00`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // the middleware refuses such bodies first
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
