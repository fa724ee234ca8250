package server

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/mlserve/mlserve/api"
)

// The fast path's answers are encoded by hand, byte for byte as huma's JSON
// format (encoding/json, HTML escaping off, a trailing newline) encodes
// them, without reflection. A value encoding/json would refuse (NaN or
// infinite numbers) makes the encoders answer false, and the caller then
// hands the value to huma's marshaller, which reports it as huma does.
// encode_test.go fuzzes them against encoding/json.

// bufPool holds response buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json quotes a string with
// HTML escaping off: short escapes for \b \f \n \r \t, \u00XX for the other
// control characters, \ufffd for each byte of invalid UTF-8, and U+2028 and
// U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONFloat appends f as encoding/json writes a float64: the shortest
// decimal that reads back as f, in exponent form below 1e-6 and from 1e21,
// with the exponent unpadded. It reports false for NaN and infinities.
func appendJSONFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1] // e-07 → e-7
		b = b[:n-1]
	}
	return b, true
}

// appendProbabilities appends a probabilities map with its keys in order,
// as encoding/json writes a map.
func appendProbabilities(b []byte, m map[string]float64) ([]byte, bool) {
	var arr [8]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	ok := true
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		var fok bool
		b, fok = appendJSONFloat(b, m[k])
		ok = ok && fok
	}
	return append(b, '}'), ok
}

// appendStrings appends a JSON array of strings.
func appendStrings(b []byte, s []string) []byte {
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v)
	}
	return append(b, ']')
}

// appendOOD appends an answer's ood member, comma first.
func appendOOD(b []byte, o *api.OOD) ([]byte, bool) {
	b = append(b, `,"ood":{"score":`...)
	b, ok := appendJSONFloat(b, o.Score)
	b = append(b, `,"flag":`...)
	b = strconv.AppendBool(b, o.Flag)
	if o.Signal != "" {
		b = append(b, `,"signal":`...)
		b = appendJSONString(b, o.Signal)
	}
	return append(b, '}'), ok
}

// appendPredictResponse appends r as huma's JSON format writes it.
func appendPredictResponse(b []byte, r *api.PredictResponse) ([]byte, bool) {
	if r.Explanation != nil {
		return b, false // rare and nested: huma encodes it
	}
	var ok1, ok2, ok3 bool
	b = append(b, `{"label":`...)
	b = appendJSONString(b, r.Label)
	b = append(b, `,"confidence":`...)
	b, ok1 = appendJSONFloat(b, r.Confidence)
	b = append(b, `,"latency_ms":`...)
	b, ok2 = appendJSONFloat(b, r.LatencyMS)
	b = append(b, `,"model_version":`...)
	b = appendJSONString(b, r.ModelVersion)
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, r.RequestID)
	b = append(b, `,"cached":`...)
	b = strconv.AppendBool(b, r.Cached)
	ok3 = true
	if len(r.Probabilities) > 0 {
		b = append(b, `,"probabilities":`...)
		b, ok3 = appendProbabilities(b, r.Probabilities)
	}
	if len(r.Labels) > 0 {
		b = append(b, `,"labels":`...)
		b = appendStrings(b, r.Labels)
	}
	ok4 := true
	if r.OOD != nil {
		b, ok4 = appendOOD(b, r.OOD)
	}
	return append(b, '}', '\n'), ok1 && ok2 && ok3 && ok4
}

// appendBatchResponse appends r as huma's JSON format writes it.
func appendBatchResponse(b []byte, r *api.BatchPredictResponse) ([]byte, bool) {
	ok := true
	if r.Predictions == nil {
		b = append(b, `{"predictions":null`...)
	} else {
		b = append(b, `{"predictions":[`...)
		for i := range r.Predictions {
			p := &r.Predictions[i]
			if p.Explanation != nil {
				return b, false // rare and nested: huma encodes it
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"label":`...)
			b = appendJSONString(b, p.Label)
			b = append(b, `,"confidence":`...)
			var fok bool
			b, fok = appendJSONFloat(b, p.Confidence)
			ok = ok && fok
			b = append(b, `,"cached":`...)
			b = strconv.AppendBool(b, p.Cached)
			if len(p.Probabilities) > 0 {
				b = append(b, `,"probabilities":`...)
				b, fok = appendProbabilities(b, p.Probabilities)
				ok = ok && fok
			}
			if len(p.Labels) > 0 {
				b = append(b, `,"labels":`...)
				b = appendStrings(b, p.Labels)
			}
			if p.OOD != nil {
				b, fok = appendOOD(b, p.OOD)
				ok = ok && fok
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"total_latency_ms":`...)
	var fok bool
	b, fok = appendJSONFloat(b, r.TotalLatencyMS)
	b = append(b, `,"model_version":`...)
	b = appendJSONString(b, r.ModelVersion)
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, r.RequestID)
	return append(b, '}', '\n'), ok && fok
}

// appendV1Response appends a KServe V1 answer as huma's JSON format
// writes it.
func appendV1Response(b []byte, r *v1PredictResponse) ([]byte, bool) {
	if r.Predictions == nil {
		return append(b, `{"predictions":null}`+"\n"...), true
	}
	ok := true
	b = append(b, `{"predictions":[`...)
	for i := range r.Predictions {
		p := &r.Predictions[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"label":`...)
		b = appendJSONString(b, p.Label)
		b = append(b, `,"confidence":`...)
		var fok bool
		b, fok = appendJSONFloat(b, p.Confidence)
		ok = ok && fok
		if len(p.Probabilities) > 0 {
			b = append(b, `,"probabilities":`...)
			b, fok = appendProbabilities(b, p.Probabilities)
			ok = ok && fok
		}
		b = append(b, '}')
	}
	return append(b, ']', '}', '\n'), ok
}

// appendAnswer encodes a prediction answer the fast encoders know; false
// for anything else, or a value they leave to huma.
func appendAnswer(b []byte, v any) ([]byte, bool) {
	switch r := v.(type) {
	case *api.PredictResponse:
		return appendPredictResponse(b, r)
	case *api.BatchPredictResponse:
		return appendBatchResponse(b, r)
	case *v1PredictResponse:
		return appendV1Response(b, r)
	}
	return b, false
}

// encodable is a huma transformer, run before huma writes a status: a
// response body that JSON cannot carry (a NaN or infinite figure from a
// model or the monitor) becomes a 500 problem saying so, where huma would
// send the 200 and then fail to marshal, leaving the body empty. Prediction
// answers are left to their own checks (finiteAnswers, and the hand
// encoders that refuse NaN), which spares the hot path a second encoding.
func encodable(ctx huma.Context, _ string, v any) (any, error) {
	switch v.(type) {
	case nil, *api.Problem, *api.PredictResponse, *api.BatchPredictResponse, *v1PredictResponse:
		return v, nil
	}
	err := json.NewEncoder(io.Discard).Encode(v)
	if err == nil {
		return v, nil
	}
	_, w := humago.Unwrap(ctx)
	for w != nil {
		if sw, ok := w.(*statusWriter); ok {
			sw.override = http.StatusInternalServerError
			break
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			// No statusWriter (not served through the middleware): leave
			// the value to huma, which reports the error.
			return v, nil
		}
		w = u.Unwrap()
	}
	if w == nil {
		return v, nil
	}
	ctx.SetHeader("Content-Type", api.ProblemContentType)
	return newProblem(http.StatusInternalServerError, "the response cannot be encoded: "+err.Error()), nil
}
