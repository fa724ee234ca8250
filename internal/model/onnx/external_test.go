package onnx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mlserve/mlserve/internal/model"
)

// rewriteTensor returns the model b with fn applied to every initializer
// of its main graph whose name is name.
func rewriteTensor(t testing.TB, b []byte, name string, fn func(tensor []byte) []byte) []byte {
	t.Helper()
	found := false
	out := rewriteField(t, b, modelGraph, func(graph []byte) []byte {
		return rewriteField(t, graph, graphInitializer, func(tensor []byte) []byte {
			if tensorNameOf(t, tensor) != name {
				return tensor
			}
			found = true
			return fn(tensor)
		})
	})
	if !found {
		t.Fatalf("no initializer %q", name)
	}
	return out
}

// rewriteField copies the message b with fn applied to each
// length-delimited field num.
func rewriteField(t testing.TB, b []byte, num protowire.Number, fn func([]byte) []byte) []byte {
	t.Helper()
	var out []byte
	for len(b) > 0 {
		n, typ, tl := protowire.ConsumeTag(b)
		vl := protowire.ConsumeFieldValue(n, typ, b[tl:])
		if tl < 0 || vl < 0 {
			t.Fatal("bad protobuf in a fixture")
		}
		if n == num && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b[tl:])
			out = protowire.AppendTag(out, n, typ)
			out = protowire.AppendBytes(out, fn(v))
		} else {
			out = append(out, b[:tl+vl]...)
		}
		b = b[tl+vl:]
	}
	return out
}

func tensorNameOf(t testing.TB, tensor []byte) string {
	name := ""
	if err := each(tensor, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num == tensorName && typ == protowire.BytesType {
			name = string(v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return name
}

// externalize moves tensor's raw_data out: the graph keeps entries (key,
// value pairs) and data_location EXTERNAL; raw is the moved bytes.
func externalize(t testing.TB, b []byte, tensor string, entries ...string) (graph, raw []byte) {
	t.Helper()
	graph = rewriteTensor(t, b, tensor, func(tb []byte) []byte {
		var out []byte
		for len(tb) > 0 {
			n, typ, tl := protowire.ConsumeTag(tb)
			vl := protowire.ConsumeFieldValue(n, typ, tb[tl:])
			if n == 9 { // raw_data
				raw, _ = protowire.ConsumeBytes(tb[tl:])
			} else {
				out = append(out, tb[:tl+vl]...)
			}
			tb = tb[tl+vl:]
		}
		out = appendEntries(out, entries...)
		out = protowire.AppendTag(out, tensorDataLocation, protowire.VarintType)
		return protowire.AppendVarint(out, locationExternal)
	})
	if raw == nil {
		t.Fatalf("initializer %q has no raw_data", tensor)
	}
	return graph, raw
}

func appendEntries(out []byte, kv ...string) []byte {
	for i := 0; i+1 < len(kv); i += 2 {
		var e []byte
		e = protowire.AppendTag(e, entryKey, protowire.BytesType)
		e = protowire.AppendString(e, kv[i])
		e = protowire.AppendTag(e, entryValue, protowire.BytesType)
		e = protowire.AppendString(e, kv[i+1])
		out = protowire.AppendTag(out, tensorExternalData, protowire.BytesType)
		out = protowire.AppendBytes(out, e)
	}
	return out
}

// inline puts every external initializer of the main graph back into
// raw_data, reading the files beside it in dir.
func inline(t testing.TB, b []byte, dir string) []byte {
	t.Helper()
	return rewriteField(t, b, modelGraph, func(graph []byte) []byte {
		return rewriteField(t, graph, graphInitializer, func(tb []byte) []byte {
			var ext externalTensor
			w := walker{found: func(x externalTensor) error { ext = x; return nil }}
			if err := w.tensor(tb); err != nil {
				t.Fatal(err)
			}
			if !ext.hasLoc {
				return tb
			}
			data, err := os.ReadFile(filepath.Join(dir, ext.location))
			if err != nil {
				t.Fatal(err)
			}
			n, _ := tensorBytes(ext.dims, ext.dtype)
			var out []byte
			for len(tb) > 0 {
				num, typ, tl := protowire.ConsumeTag(tb)
				vl := protowire.ConsumeFieldValue(num, typ, tb[tl:])
				if num != tensorExternalData && num != tensorDataLocation {
					out = append(out, tb[:tl+vl]...)
				}
				tb = tb[tl+vl:]
			}
			out = protowire.AppendTag(out, 9, protowire.BytesType)
			return protowire.AppendBytes(out, data[ext.offset:ext.offset+n])
		})
	})
}

// bagExternal is a copy of the bag fixture whose embedding table "emb"
// (float32 [31,6], 744 bytes) is external data with entries; the data
// file, when data is not nil, is written as dataName.
func bagExternal(t *testing.T, dataName string, pad int, entries ...string) string {
	t.Helper()
	dir := copyFixture(t, "bag", nil)
	b, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	graph, raw := externalize(t, b, "emb", entries...)
	if err := os.WriteFile(filepath.Join(dir, "model.onnx"), graph, 0o644); err != nil {
		t.Fatal(err)
	}
	if dataName != "" {
		data := append(make([]byte, pad), raw...)
		if err := os.WriteFile(filepath.Join(dir, dataName), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestExternalDataLoads: the bag graph with its embedding table in a data
// file (at offset 0, and at 4096 after padding, with and without length)
// predicts what the single file predicts.
func TestExternalDataLoads(t *testing.T) {
	o := testOptions(t)
	texts := []string{"good movie", "terrible plot and awful acting", "it was fine", "zzz unknown words"}
	base := loadFixture(t, "bag")
	want, err := base.Predict(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		pad     int
		entries []string
	}{
		{"offset 0", 0, []string{"location", "model.onnx.data"}},
		{"offset and length", 4096, []string{"location", "model.onnx.data", "offset", "4096", "length", "744", "checksum", "x"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := bagExternal(t, "model.onnx.data", c.pad, c.entries...)
			files, err := externalFiles(dir, filepath.Join(dir, "model.onnx"), "model.onnx")
			if err != nil || len(files) != 1 || filepath.Base(files[0]) != "model.onnx.data" {
				t.Fatalf("external files %v, %v", files, err)
			}
			m, err := LoadDir(context.Background(), dir, o)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			got, err := m.Predict(context.Background(), texts)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("external data predicts %v, single file %v", got, want)
			}
		})
	}
}

// TestExternalDataRefused: hostile external data is refused with
// model.ErrInvalid naming the tensor and the location, before ONNX Runtime
// opens anything (a FIFO would block an open; the test would time out).
func TestExternalDataRefused(t *testing.T) {
	o := testOptions(t)
	outside := filepath.Join(t.TempDir(), "outside.data")
	if err := os.WriteFile(outside, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	loc := func(l string, more ...string) []string { return append([]string{"location", l}, more...) }
	cases := []struct {
		name    string
		entries []string
		setup   func(t *testing.T, dir string)
		want    string
	}{
		{"absolute path", loc("/etc/hostname"), nil, "absolute path"},
		{"dot-dot escape", loc("../outside.data"), func(t *testing.T, dir string) {
			_ = os.WriteFile(filepath.Join(filepath.Dir(dir), "outside.data"), make([]byte, 4096), 0o644)
		}, `".." part`},
		{"dot-dot inside", loc("sub/../model.onnx.data"), nil, `".." part`},
		{"backslash", loc(`..\outside.data`), nil, `\`},
		{"ORT memory address", loc("*/_ORT_MEM_ADDR_/*", "offset", "4096"), nil, "*"},
		{"empty location", loc(""), nil, "empty location"},
		{"no location", []string{"offset", "0"}, nil, "no location"},
		{"symlink outside", loc("link.data"), func(t *testing.T, dir string) {
			if err := os.Symlink(outside, filepath.Join(dir, "link.data")); err != nil {
				t.Fatal(err)
			}
		}, "leaves the version folder"},
		{"directory", loc("datadir"), func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, "datadir"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
		{"FIFO", loc("fifo.data"), func(t *testing.T, dir string) {
			if err := unix.Mkfifo(filepath.Join(dir, "fifo.data"), 0o644); err != nil {
				t.Skip("no FIFO here:", err)
			}
		}, "not a regular file"},
		{"device", loc("null.data"), func(t *testing.T, dir string) {
			if err := os.Symlink("/dev/null", filepath.Join(dir, "null.data")); err != nil {
				t.Fatal(err)
			}
		}, "leaves the version folder"},
		{"missing file", loc("nothere.data"), nil, "no such file"},
		{"offset past EOF", loc("model.onnx.data", "offset", "1000000"), nil, "past the end"},
		{"length past EOF", loc("model.onnx.data", "offset", "700", "length", "744"), nil, "past the end"},
		{"length disagrees with dims", loc("model.onnx.data", "length", "10"), nil, "length 10, but dims [31 6] of float32 take 744 bytes"},
		{"negative offset", loc("model.onnx.data", "offset", "-1"), nil, "non-negative"},
		{"offset overflows", loc("model.onnx.data", "offset", "99999999999999999999"), nil, "non-negative"},
		{"unknown key", loc("model.onnx.data", "basepath", "/"), nil, "unknown external_data key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := bagExternal(t, "model.onnx.data", 0, c.entries...)
			if c.setup != nil {
				c.setup(t, dir)
			}
			done := make(chan error, 1)
			go func() {
				m, err := LoadDir(context.Background(), dir, o)
				if err == nil {
					m.Close()
				}
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("Load blocked")
			}
			if !errors.Is(err, model.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, `tensor "emb"`) || !strings.Contains(msg, "external data "+strconv.Quote(c.entries[1])) && c.entries[0] == "location" || !strings.Contains(msg, c.want) {
				t.Errorf("err = %v, want it to name the tensor, the location and %q", err, c.want)
			}
		})
	}
}

// nested is a model whose main graph nests depth subgraphs (a node's
// attribute g), the innermost holding tensor.
func nested(depth int, tensor []byte) []byte {
	var g []byte
	g = protowire.AppendTag(g, graphInitializer, protowire.BytesType)
	g = protowire.AppendBytes(g, tensor)
	for i := 0; i < depth; i++ {
		var attr, node, graph []byte
		attr = protowire.AppendTag(attr, attrGraph, protowire.BytesType)
		attr = protowire.AppendBytes(attr, g)
		node = protowire.AppendTag(node, nodeAttribute, protowire.BytesType)
		node = protowire.AppendBytes(node, attr)
		graph = protowire.AppendTag(graph, graphNode, protowire.BytesType)
		graph = protowire.AppendBytes(graph, node)
		g = graph
	}
	var m []byte
	m = protowire.AppendTag(m, modelGraph, protowire.BytesType)
	return protowire.AppendBytes(m, g)
}

// hostileTensor is a float32 [2] tensor named name whose data is at /etc/hostname.
func hostileTensor(name string) []byte {
	var tb []byte
	tb = protowire.AppendTag(tb, tensorDims, protowire.VarintType)
	tb = protowire.AppendVarint(tb, 2)
	tb = protowire.AppendTag(tb, tensorDataType, protowire.VarintType)
	tb = protowire.AppendVarint(tb, 1)
	tb = protowire.AppendTag(tb, tensorName, protowire.BytesType)
	tb = protowire.AppendString(tb, name)
	return appendEntries(tb, "location", "/etc/hostname")
}

func wrap(num protowire.Number, b []byte) []byte {
	out := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(out, b)
}

// TestExternalDataWalk: a tensor with external data is found wherever
// onnx.proto lets one be (subgraphs, node attributes, sparse tensors,
// functions, training graphs), nesting is bounded, and a graph that is not
// a protobuf is refused. No ONNX Runtime needed.
func TestExternalDataWalk(t *testing.T) {
	tensor := hostileTensor("hidden")
	attr := func(num protowire.Number, v []byte) []byte {
		return wrap(modelGraph, wrap(graphNode, wrap(nodeAttribute, wrap(num, v))))
	}
	valid, err := os.ReadFile(filepath.Join("testdata", "bag", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		file []byte
		want string // in the error; "" for no error
	}{
		{"initializer", nested(0, tensor), `tensor "hidden"`},
		{"subgraph 32 deep", nested(maxGraphDepth, tensor), `tensor "hidden"`},
		{"subgraph 33 deep", nested(maxGraphDepth+1, tensor), "nested deeper than 32"},
		{"subgraph 1000 deep", nested(1000, tensor), "nested deeper than 32"},
		{"sparse initializer values", wrap(modelGraph, wrap(graphSparseInit, wrap(sparseValues, tensor))), `tensor "hidden"`},
		{"sparse initializer indices", wrap(modelGraph, wrap(graphSparseInit, wrap(sparseIndices, tensor))), `tensor "hidden"`},
		{"attribute t", attr(attrTensor, tensor), `tensor "hidden"`},
		{"attribute tensors", attr(attrTensors, tensor), `tensor "hidden"`},
		{"attribute sparse_tensor", attr(attrSparseTensor, wrap(sparseValues, tensor)), `tensor "hidden"`},
		{"attribute sparse_tensors", attr(attrSparseTensors, wrap(sparseIndices, tensor)), `tensor "hidden"`},
		{"attribute graphs", attr(attrGraphs, wrap(graphInitializer, tensor)), `tensor "hidden"`},
		{"function node attribute", wrap(modelFunctions, wrap(functionNode, wrap(nodeAttribute, wrap(attrTensor, tensor)))), `tensor "hidden"`},
		{"training initialization", wrap(modelTraining, wrap(trainingInit, wrap(graphInitializer, tensor))), `tensor "hidden"`},
		{"training algorithm", wrap(modelTraining, wrap(trainingAlgo, wrap(graphInitializer, tensor))), `tensor "hidden"`},
		{"data_location alone", wrap(modelGraph, wrap(graphInitializer, append([]byte{byte(tensorDataLocation << 3), 1}, wrap(tensorName, []byte("x"))...))), `tensor "x": external data "": no location`},
		{"truncated", valid[:len(valid)/2], "not a valid ONNX model"},
		{"garbage", bytes.Repeat([]byte{0xff}, 64), "not a valid ONNX model"},
		{"valid, nothing external", valid, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "model.onnx")
			if err := os.WriteFile(path, c.file, 0o644); err != nil {
				t.Fatal(err)
			}
			files, err := externalFiles(dir, path, "model.onnx")
			if c.want == "" {
				if err != nil || files != nil {
					t.Fatalf("files %v, err %v", files, err)
				}
				return
			}
			if !errors.Is(err, model.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrInvalid with %q", err, c.want)
			}
		})
	}
}

// FuzzExternalFiles: any bytes as a graph file give files or an error,
// never a panic or a hang.
func FuzzExternalFiles(f *testing.F) {
	valid, err := os.ReadFile(filepath.Join("testdata", "bag", "model.onnx"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(nested(3, hostileTensor("t")))
	f.Add(wrap(modelFunctions, wrap(functionNode, wrap(nodeAttribute, wrap(attrTensor, hostileTensor("f"))))))
	f.Fuzz(func(t *testing.T, b []byte) {
		w := walker{found: func(externalTensor) error { return nil }}
		_ = w.model(b)
	})
}

// v3Embeddings is sentiment/v3's word-embedding table, the tensor its
// sample keeps as external data (scripts/fetch-models.sh).
const v3Embeddings = "inner.embeddings.word_embeddings.weight_quantized"

// TestExternalDataSentimentV3: the sample MiniLM encoder as one file and
// as graph + data file (its word-embedding table external: whichever form
// models/sentiment/v3 holds, the test makes the other) predicts the same.
func TestExternalDataSentimentV3(t *testing.T) {
	o := testOptions(t)
	src := filepath.Join(repoRoot(t), "models", "sentiment", "v3")
	b, err := os.ReadFile(filepath.Join(src, "encoder.onnx"))
	if err != nil {
		t.Skip("models/sentiment/v3/encoder.onnx not fetched (scripts/fetch-models.sh)")
	}
	single, split := t.TempDir(), t.TempDir()
	copyDir(t, src, single)
	copyDir(t, src, split)
	if _, err := os.Stat(filepath.Join(src, "encoder.onnx.data")); err == nil {
		b = inline(t, b, src)
		os.Remove(filepath.Join(single, "encoder.onnx.data"))
		if err := os.WriteFile(filepath.Join(single, "encoder.onnx"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		graph, raw := externalize(t, b, v3Embeddings, "location", "encoder.onnx.data")
		if err := os.WriteFile(filepath.Join(split, "encoder.onnx"), graph, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(split, "encoder.onnx.data"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	texts := []string{"A wonderful film, I loved every minute.", "Dull and far too long.", "It was okay.", "zzzz qqqq"}
	var outs [2]string
	for i, dir := range []string{single, split} {
		m, err := LoadDir(context.Background(), dir, o)
		if err != nil {
			t.Fatal(err)
		}
		p, err := m.Predict(context.Background(), texts)
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = fmt.Sprint(p)
	}
	files, err := externalFiles(split, filepath.Join(split, "encoder.onnx"), "encoder.onnx")
	if err != nil || len(files) != 1 {
		t.Fatalf("split encoder's external files %v, %v", files, err)
	}
	if outs[0] != outs[1] {
		t.Errorf("one file predicts %s, graph + data %s", outs[0], outs[1])
	}
}
