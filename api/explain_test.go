package api

import (
	"encoding/json"
	"testing"
)

func TestExplainJSON(t *testing.T) {
	tests := []struct {
		in   string
		want Explain
		ok   bool
		out  string
	}{
		{`true`, Explain{Enabled: true}, true, `true`},
		{`false`, Explain{}, true, `false`},
		{`null`, Explain{}, true, `false`},
		{`{}`, Explain{Enabled: true}, true, `true`},
		{`{"top_k":5}`, Explain{Enabled: true, TopK: 5}, true, `{"top_k":5}`},
		{`{"top_k":5,"max_tokens":32}`, Explain{Enabled: true, TopK: 5, MaxTokens: 32}, true, `{"top_k":5,"max_tokens":32}`},
		{`{"top_k":1001}`, Explain{}, false, ""},
		{`{"max_tokens":513}`, Explain{}, false, ""},
		{`{"top_k":-1}`, Explain{}, false, ""},
		{`{"topk":3}`, Explain{}, false, ""},
		{`"yes"`, Explain{}, false, ""},
		{`3`, Explain{}, false, ""},
	}
	for _, tc := range tests {
		var e Explain
		err := json.Unmarshal([]byte(tc.in), &e)
		if (err == nil) != tc.ok || (tc.ok && e != tc.want) {
			t.Errorf("%s: %+v, %v; want %+v ok=%v", tc.in, e, err, tc.want, tc.ok)
			continue
		}
		if tc.ok {
			b, err := json.Marshal(e)
			if err != nil || string(b) != tc.out {
				t.Errorf("%s: marshals to %s (%v), want %s", tc.in, b, err, tc.out)
			}
		}
	}
	// A request without explain leaves the key out.
	b, _ := json.Marshal(PredictRequest{Text: "x"})
	if string(b) != `{"text":"x"}` {
		t.Errorf("request without explain: %s", b)
	}
}

// FuzzExplainJSON: whatever the bytes, decoding does not panic, and what
// it accepts marshals to a form that decodes to the same value.
func FuzzExplainJSON(f *testing.F) {
	for _, s := range []string{`true`, `{"top_k":3}`, `{"max_tokens":1,"top_k":1000}`, `{"top_k":1e2}`, `[]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var e Explain
		if err := e.UnmarshalJSON([]byte(s)); err != nil {
			return
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var back Explain
		if err := json.Unmarshal(b, &back); err != nil || back != e {
			t.Fatalf("%s → %+v → %s → %+v (%v)", s, e, b, back, err)
		}
	})
}
