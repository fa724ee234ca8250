package server_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/server"
)

// multiLabelRegistry is the fake registry with topics-v1: a keyword model
// made multi-label with threshold 0.15, so "good" texts (0.1, 0.9) have the
// label positive and others (0.8, 0.2) both labels.
func multiLabelRegistry() *fakeRegistry {
	reg := newFakeRegistry()
	th := 0.15
	reg.models["topics-v1"] = &keywordModel{id: "topics-v1", threshold: &th}
	reg.defaults["topics"] = "topics-v1"
	return reg
}

// TestMultiLabelAnswers: a multi-label model's labels over its threshold
// appear in /predict, /batch-predict (fast path and huma alike) and the
// OIP labels output; a single-label model's answers have none.
func TestMultiLabelAnswers(t *testing.T) {
	s := newServer(t, multiLabelRegistry(), server.Options{})
	t.Run("predict", func(t *testing.T) {
		for _, tc := range []struct {
			model, text string
			want        []string
		}{
			{"topics", "good day", []string{"positive"}},
			{"topics", "bad day", []string{"negative", "positive"}},
			{"sentiment", "bad day", nil},
		} {
			// Both the fast path (plain JSON) and huma (a field it must parse).
			for _, body := range []string{
				`{"text":"` + tc.text + `","model_version":"` + tc.model + `"}`,
				`{"text":"` + tc.text + `","model_version":"` + tc.model + `","return_probabilities":true,"timeout_ms":null}`,
			} {
				w := do(t, s, call{method: "POST", path: "/predict", body: body})
				if w.Code != 200 {
					t.Fatalf("%d %s", w.Code, w.Body)
				}
				var r api.PredictResponse
				if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(r.Labels, tc.want) || (tc.want == nil && strings.Contains(w.Body.String(), `"labels"`)) {
					t.Errorf("%s %q: %s, want labels %v", tc.model, tc.text, w.Body, tc.want)
				}
			}
		}
	})
	t.Run("batch-predict", func(t *testing.T) {
		w := do(t, s, call{method: "POST", path: "/batch-predict", body: `{"texts":["good","bad"],"model_version":"topics-v1"}`})
		var r api.BatchPredictResponse
		if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil || len(r.Predictions) != 2 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if !slices.Equal(r.Predictions[0].Labels, []string{"positive"}) || !slices.Equal(r.Predictions[1].Labels, []string{"negative", "positive"}) {
			t.Errorf("batch labels %s", w.Body)
		}
	})
	t.Run("oip", func(t *testing.T) {
		infer := func(model, extra string) *httptest.ResponseRecorder {
			return do(t, s, call{method: "POST", path: "/v2/models/" + model + "/infer",
				body: `{"inputs":[{"name":"text","datatype":"BYTES","shape":[2],"data":["good","bad"]}]` + extra + `}`})
		}
		type outputs struct {
			Outputs []struct {
				Name, Datatype string
				Shape          []int64
				Data           []any
			}
		}
		for _, extra := range []string{"", `,"outputs":[{"name":"labels"}]`} {
			w := infer("topics", extra)
			var r outputs
			if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil || w.Code != 200 {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			o := r.Outputs[len(r.Outputs)-1]
			if o.Name != "labels" || o.Datatype != "BYTES" || !slices.Equal(o.Shape, []int64{2}) ||
				len(o.Data) != 2 || o.Data[0] != `["positive"]` || o.Data[1] != `["negative","positive"]` {
				t.Errorf("labels output %+v in %s", o, w.Body)
			}
		}
		if w := infer("sentiment", ""); strings.Contains(w.Body.String(), `"labels"`) {
			t.Errorf("single-label OIP answer has labels: %s", w.Body)
		}
		if msg := oipErr(t, infer("sentiment", `,"outputs":[{"name":"labels"}]`), 400); !strings.Contains(msg, "multi-label") {
			t.Errorf("error %q", msg)
		}
		w := do(t, s, call{method: "GET", path: "/v2/models/topics"})
		var md struct {
			Outputs    []struct{ Name string }
			Parameters map[string]any
		}
		if err := json.Unmarshal(w.Body.Bytes(), &md); err != nil || len(md.Outputs) != 4 || md.Outputs[3].Name != "labels" || md.Parameters["threshold"] != 0.15 {
			t.Errorf("metadata %s", w.Body)
		}
	})
	t.Run("oip binary", func(t *testing.T) {
		body, hl := binaryRequest(t, []string{"good", "bad"}, `,"outputs":[{"name":"labels","parameters":{"binary_data":true}}]`)
		req := httptest.NewRequest("POST", "/v2/models/topics/infer", bytes.NewReader(body))
		req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(hl))
		req.RemoteAddr = "127.0.0.1:1"
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		n, err := strconv.Atoi(w.Header().Get("Inference-Header-Content-Length"))
		if w.Code != 200 || err != nil {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		raw := w.Body.Bytes()[n:]
		var got []string
		for len(raw) >= 4 {
			k := binary.LittleEndian.Uint32(raw)
			got = append(got, string(raw[4:4+k]))
			raw = raw[4+k:]
		}
		if !slices.Equal(got, []string{`["positive"]`, `["negative","positive"]`}) {
			t.Errorf("binary labels %q", got)
		}
	})
}

func TestEncodeLabelSet(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, `[]`}, {[]string{"a"}, `["a"]`}, {[]string{"a,b", `q"`, "<&>"}, `["a,b","q\"","\u003c\u0026\u003e"]`},
	} {
		got := string(server.EncodeLabelSet(tc.in))
		var back []string
		if got != tc.want || json.Unmarshal([]byte(got), &back) != nil || len(back) != len(tc.in) {
			t.Errorf("EncodeLabelSet(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
