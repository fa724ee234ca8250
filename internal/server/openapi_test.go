package server_test

import (
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/server"
)

// TestOpenAPIAgreesWithHandlers walks the OpenAPI document and tries each
// documented constraint against the handlers: a path parameter's pattern
// (a value it refuses is a 422; the patterns are the repository's naming
// rules), the numeric bounds of the prediction bodies (the bound itself is
// accepted, one past it refused), and every status the checks produce is a
// response the operation documents.
func TestOpenAPIAgreesWithHandlers(t *testing.T) {
	s := newServer(t, newFakeRegistry(), server.Options{})
	doc := s.OpenAPI()
	documented := func(path, method string, status int) bool {
		op := operations(doc.Paths[path])[method]
		if op == nil {
			return false
		}
		_, ok := op.Responses[strconv.Itoa(status)]
		return ok || (status < 300 && op.Responses["default"] != nil)
	}
	// Path parameters: a pattern must exist and agree with the rules.
	names := []string{"sentiment", "spam.v2", "a_b-c", "Bad", "-x", "x/y", "ünï", "", "v2", "2", "v"}
	for path, item := range doc.Paths {
		for method, op := range operations(item) {
			for _, p := range op.Parameters {
				if p.In != "path" {
					continue
				}
				if p.Schema == nil || p.Schema.Pattern == "" {
					t.Errorf("%s %s: path parameter %s has no pattern", method, path, p.Name)
					continue
				}
				re := regexp.MustCompile(p.Schema.Pattern)
				for _, n := range names {
					value := n
					if p.Name == "id" {
						value = n + "-v2"
					}
					_, _, splitErr := model.SplitID(value)
					rule := model.ValidName(value)
					if p.Name == "id" {
						rule = splitErr
					}
					if p.Name == "version" { // an OIP version: v2, or 2 meaning v2
						_, rule = model.ParseVersion(value)
						if _, err := model.ParseVersion("v" + value); err == nil {
							rule = nil
						}
					}
					if re.MatchString(value) != (rule == nil) {
						t.Errorf("%s %s: %s pattern %s on %q says %v, the repository says %v",
							method, path, p.Name, p.Schema.Pattern, value, re.MatchString(value), rule)
					}
				}
				// A value the pattern refuses is a documented 422 on the route.
				bad := "Not_Valid!"
				url := regexp.MustCompile(`\{`+p.Name+`\}`).ReplaceAllString(path, bad)
				url = regexp.MustCompile(`\{[a-z]+\}`).ReplaceAllString(url, "sentiment-v1")
				body := ""
				if method == http.MethodPut {
					body = `{"version":"v1"}`
				}
				w := do(t, s, call{method: method, path: url, body: body})
				if w.Code != http.StatusUnprocessableEntity {
					t.Errorf("%s %s: %d %s, want 422", method, url, w.Code, w.Body)
				} else if !documented(path, method, w.Code) {
					t.Errorf("%s %s answers %d, which the document does not list", method, path, w.Code)
				}
			}
		}
	}
	// Numeric bounds of the prediction bodies.
	for _, tt := range []struct{ path, schema, field, prefix string }{
		{"/predict", "PredictRequest", "timeout_ms", `{"text":"good","timeout_ms":`},
		{"/batch-predict", "BatchPredictRequest", "timeout_ms", `{"texts":["good"],"timeout_ms":`},
	} {
		sch := doc.Components.Schemas.Map()[tt.schema]
		if sch == nil || sch.Properties[tt.field] == nil {
			t.Fatalf("%s.%s not in the document", tt.schema, tt.field)
		}
		f := sch.Properties[tt.field]
		if f.Minimum == nil || f.Maximum == nil {
			t.Fatalf("%s.%s has no bounds", tt.schema, tt.field)
		}
		cases := map[string]int{
			strconv.FormatFloat(*f.Minimum, 'f', -1, 64):     200,
			strconv.FormatFloat(*f.Maximum, 'f', -1, 64):     200,
			strconv.FormatFloat(*f.Maximum, 'f', 1, 64):      200, // 600000.0: integer per JSON Schema
			strconv.FormatFloat(*f.Minimum-1, 'f', -1, 64):   422,
			strconv.FormatFloat(*f.Maximum+1, 'f', -1, 64):   422,
			strconv.FormatFloat(*f.Maximum-0.5, 'f', -1, 64): 422, // not an integer
		}
		if f.Nullable || hasType(f.Type, "null") {
			cases["null"] = 200
		}
		for v, want := range cases {
			w := do(t, s, call{method: "POST", path: tt.path, body: tt.prefix + v + "}"})
			if w.Code != want {
				t.Errorf("%s %s=%s: %d %s, want %d", tt.path, tt.field, v, w.Code, w.Body, want)
			}
			if !documented(tt.path, http.MethodPost, w.Code) {
				t.Errorf("%s answers %d, which the document does not list", tt.path, w.Code)
			}
		}
	}
	// Malformed JSON is a 400 wherever a JSON body is taken, and documented.
	for _, c := range []call{
		{method: "POST", path: "/predict", body: `{"text":`},
		{method: "POST", path: "/batch-predict", body: `{"texts":`},
		{method: "PUT", path: "/models/sentiment/default", body: `{"version":`},
	} {
		w := do(t, s, c)
		if w.Code != http.StatusBadRequest || !documented(c.path, c.method, w.Code) {
			p := c.path
			if c.method == "PUT" {
				p = "/models/{name}/default"
			}
			if w.Code != http.StatusBadRequest || !documented(p, c.method, w.Code) {
				t.Errorf("%s %s malformed: %d (documented: %v)", c.method, c.path, w.Code, documented(p, c.method, w.Code))
			}
		}
	}
}

// operations lists a path item's operations by method.
func operations(item *huma.PathItem) map[string]*huma.Operation {
	out := map[string]*huma.Operation{}
	if item == nil {
		return out
	}
	for method, op := range map[string]*huma.Operation{http.MethodGet: item.Get, http.MethodPut: item.Put,
		http.MethodPost: item.Post, http.MethodDelete: item.Delete, http.MethodPatch: item.Patch} {
		if op != nil {
			out[method] = op
		}
	}
	return out
}

func hasType(types any, want string) bool {
	switch v := types.(type) {
	case string:
		return v == want
	case []string:
		for _, s := range v {
			if s == want {
				return true
			}
		}
	}
	return false
}
