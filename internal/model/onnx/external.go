package onnx

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mlserve/mlserve/internal/model"
)

// External data. An ONNX graph may keep a tensor's bytes in another file
// (TensorProto.data_location EXTERNAL, external_data {location, offset,
// length}), which ONNX Runtime opens relative to the graph's folder and maps
// or reads. The names are data from whoever wrote the graph, so before ONNX
// Runtime sees the graph every such tensor is found and its file checked:
// a relative name with no "..", "." or empty parts and no backslash, inside
// the version folder after symbolic links are resolved (model.ResolvePath's
// policy), a regular file (never a directory, FIFO or device: opening one
// could block or read forever), the tensor's bytes inside the file, and a
// length equal to dims × element size where the element size is known.
//
// The walker reads the protobuf wire format directly (no generated ONNX
// types): it descends only into the messages that can hold a tensor —
// ModelProto.graph, .functions and .training_info; GraphProto.initializer,
// .sparse_initializer and .node; NodeProto.attribute; AttributeProto.t,
// .tensors, .sparse_tensor(s), and the subgraphs .g and .graphs — and skips
// every other field unread. Field numbers are onnx.proto's.
const (
	modelGraph     = 7  // ModelProto.graph
	modelTraining  = 20 // ModelProto.training_info
	modelFunctions = 25 // ModelProto.functions

	trainingInit = 1 // TrainingInfoProto.initialization
	trainingAlgo = 2 // TrainingInfoProto.algorithm

	graphNode         = 1  // GraphProto.node
	graphInitializer  = 5  // GraphProto.initializer
	graphSparseInit   = 15 // GraphProto.sparse_initializer
	functionNode      = 7  // FunctionProto.node
	nodeAttribute     = 5  // NodeProto.attribute
	attrTensor        = 5  // AttributeProto.t
	attrGraph         = 6  // AttributeProto.g
	attrTensors       = 10 // AttributeProto.tensors
	attrGraphs        = 11 // AttributeProto.graphs
	attrSparseTensor  = 22 // AttributeProto.sparse_tensor
	attrSparseTensors = 23 // AttributeProto.sparse_tensors
	sparseValues      = 1  // SparseTensorProto.values
	sparseIndices     = 2  // SparseTensorProto.indices

	tensorDims         = 1  // TensorProto.dims
	tensorDataType     = 2  // TensorProto.data_type
	tensorName         = 8  // TensorProto.name
	tensorExternalData = 13 // TensorProto.external_data
	tensorDataLocation = 14 // TensorProto.data_location
	entryKey           = 1  // StringStringEntryProto.key
	entryValue         = 2  // StringStringEntryProto.value

	locationExternal = 1 // TensorProto.DataLocation EXTERNAL
)

// Limits of the walk: a graph nested deeper, a tensor with more entries,
// or more external tensors than these is refused, so a hostile file costs
// bounded time and memory before ONNX Runtime parses it.
const (
	maxGraphDepth      = 32      // subgraphs (If, Loop, Scan bodies) inside subgraphs
	maxExternalEntries = 16      // external_data entries of one tensor
	maxExternalTensors = 1 << 16 // tensors with external data in one graph
	maxLocationLen     = 1024    // bytes of one location
)

// externalAdvice turns on the page-cache advice on external data files
// (advise_linux.go); tests turn it off to measure what it saves.
var externalAdvice = true

// externalTensor is one tensor that keeps its data outside the graph file.
type externalTensor struct {
	name     string
	location string
	offset   int64
	length   int64 // -1: not given
	hasLoc   bool
	dims     []int64
	dtype    uint64
	external bool // data_location EXTERNAL
	unknown  string
	entries  int
}

// externalFiles finds the tensors of the graph at path (the artifact,
// named artifact in messages; its folder inside the version folder dir)
// that keep their data in other files, checks each as the package comment
// above says, and returns the files, each once. The graph is mapped, not
// copied into the heap. Errors wrap model.ErrInvalid and name the tensor
// and the location.
func externalFiles(dir, path, artifact string) (files []string, err error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("artifact %s: %w", artifact, err)
	}
	defer unmap()
	// The file is mapped: if it shrinks under the walk, the fault is a
	// panic here (and an invalid model), not a crash of the process.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			files, err = nil, fmt.Errorf("%w: %s changed while it was read", model.ErrInvalid, artifact)
		}
	}()
	var tensors []externalTensor
	w := walker{found: func(t externalTensor) error {
		if len(tensors) == maxExternalTensors {
			return fmt.Errorf("more than %d tensors with external data", maxExternalTensors)
		}
		tensors = append(tensors, t)
		return nil
	}}
	if err := w.model(data); err != nil {
		return nil, fmt.Errorf("%w: %s is not a valid ONNX model: %v", model.ErrInvalid, artifact, err)
	}
	if len(tensors) == 0 {
		return nil, nil
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("version folder: %w", err)
	}
	rel, err := filepath.Rel(root, filepath.Dir(path))
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		return nil, fmt.Errorf("%w: %s is outside the version folder", model.ErrInvalid, artifact)
	}
	seen := map[string]int64{}
	for _, t := range tensors {
		file, size, err := checkExternal(root, rel, t, seen)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: tensor %s: external data %s: %s", model.ErrInvalid, artifact, quoteName(t.name), quoteName(t.location), err)
		}
		if _, ok := seen[file]; !ok {
			files = append(files, file)
		}
		seen[file] = size
	}
	return files, nil
}

// checkExternal checks one tensor's external data and returns its file and
// the file's size; seen holds the sizes of files already checked.
func checkExternal(root, rel string, t externalTensor, seen map[string]int64) (string, int64, error) {
	switch {
	case t.unknown != "":
		return "", 0, fmt.Errorf("unknown external_data key %s (ONNX knows location, offset, length, checksum)", quoteName(t.unknown))
	case !t.hasLoc:
		return "", 0, errors.New("no location")
	case t.offset < 0 || t.length < -1:
		return "", 0, errors.New("offset and length must be non-negative decimal integers")
	}
	if err := localName(t.location); err != nil {
		return "", 0, err
	}
	path, err := model.ResolvePath(root, "artifact external data", filepath.Join(rel, filepath.FromSlash(t.location)))
	if err != nil {
		return "", 0, errors.New(strings.TrimPrefix(strings.TrimPrefix(err.Error(), model.ErrInvalid.Error()+": "), model.ManifestFile+" artifact external data: "))
	}
	size, ok := seen[path]
	if !ok {
		// Stat, not open: a FIFO or a device is refused before anything
		// could block on it. ResolvePath returned the link-free path.
		st, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return "", 0, errors.New("no such file in the version folder")
		}
		if err != nil {
			return "", 0, fmt.Errorf("%v", pathErr(err))
		}
		if !st.Mode().IsRegular() {
			return "", 0, fmt.Errorf("not a regular file (%s)", st.Mode().Type())
		}
		size = st.Size()
	}
	want, known := tensorBytes(t.dims, t.dtype)
	if known < 0 {
		return "", 0, errors.New("dims are negative or overflow")
	}
	n := t.length
	if n >= 0 && known > 0 && n != want {
		return "", 0, fmt.Errorf("length %d, but dims %v of %s take %d bytes", n, t.dims, dtypeLabel(t.dtype), want)
	}
	if n < 0 {
		n = 0
		if known > 0 {
			n = want
		}
	}
	if t.offset > size || n > size-t.offset {
		return "", 0, fmt.Errorf("bytes %d to %d are past the end of the %d-byte file", t.offset, uint64(t.offset)+uint64(n), size)
	}
	return path, size, nil
}

// localName refuses a location that is not a plain relative name: empty,
// absolute, with a backslash, a NUL, or an empty, "." or ".." part (ONNX
// Runtime also reads special names, such as one that points at memory).
func localName(loc string) error {
	switch {
	case loc == "":
		return errors.New("empty location")
	case len(loc) > maxLocationLen:
		return fmt.Errorf("location longer than %d bytes", maxLocationLen)
	case strings.HasPrefix(loc, "/") || filepath.IsAbs(loc) || filepath.VolumeName(loc) != "":
		return errors.New("an absolute path; name a file beside the graph")
	case strings.ContainsAny(loc, "\\\x00:*?"):
		return errors.New(`a name with \, :, *, ? or NUL; name a file beside the graph`)
	}
	for _, part := range strings.Split(loc, "/") {
		if part == "" || part == "." || part == ".." {
			return errors.New(`an empty, "." or ".." part; name a file inside the version folder`)
		}
	}
	return nil
}

// pathErr is a file-system error without the path it carries.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// quoteName quotes a name read from the graph, cut to 200 bytes.
func quoteName(s string) string {
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strconv.Quote(s)
}

// elementBits is the size in bits of one element of each ONNX data type
// (TensorProto.DataType) whose size is fixed; strings have none.
var elementBits = map[uint64]uint64{
	1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64,
	14: 64, 15: 128, 16: 16, 17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4, 24: 8, 25: 2, 26: 2,
}

// tensorBytes is the byte size of a tensor of dims and dtype: known is 1
// when it could be computed, 0 when dtype's size is not known here, -1 when
// dims are negative or the size overflows. Sub-byte types are packed.
func tensorBytes(dims []int64, dtype uint64) (n int64, known int) {
	b, ok := elementBits[dtype]
	if !ok {
		return 0, 0
	}
	count := uint64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, -1
		}
		hi, lo := bits.Mul64(count, uint64(d))
		if hi != 0 {
			return 0, -1
		}
		count = lo
	}
	hi, lo := bits.Mul64(count, b)
	if hi != 0 || lo > math.MaxInt64-7 {
		return 0, -1
	}
	return int64((lo + 7) / 8), 1
}

// dtypeLabel names an ONNX data type for a message.
func dtypeLabel(t uint64) string {
	if t > math.MaxInt32 {
		return fmt.Sprintf("data type %d", t)
	}
	return dtypeName(ort.TensorElementDataType(t))
}

// walker visits the tensors of an ONNX model in protobuf wire format and
// calls found for each that has external data.
type walker struct {
	found func(externalTensor) error
}

// each calls fn on every field of the message b; fn gets the bytes of a
// length-delimited field or the value of a varint one.
func each(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

func (w walker) model(b []byte) error {
	return each(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case modelGraph:
			return w.graph(v, 0)
		case modelFunctions:
			return w.nodes(v, functionNode, 0)
		case modelTraining:
			return each(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if typ == protowire.BytesType && (num == trainingInit || num == trainingAlgo) {
					return w.graph(v, 0)
				}
				return nil
			})
		}
		return nil
	})
}

func (w walker) graph(b []byte, depth int) error {
	if depth > maxGraphDepth {
		return fmt.Errorf("subgraphs nested deeper than %d", maxGraphDepth)
	}
	return each(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case graphInitializer:
			return w.tensor(v)
		case graphSparseInit:
			return w.sparse(v)
		case graphNode:
			return w.node(v, depth)
		}
		return nil
	})
}

// nodes visits the nodes of a FunctionProto (field num).
func (w walker) nodes(b []byte, num protowire.Number, depth int) error {
	return each(b, func(n protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ == protowire.BytesType && n == num {
			return w.node(v, depth)
		}
		return nil
	})
}

func (w walker) node(b []byte, depth int) error {
	return each(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ == protowire.BytesType && num == nodeAttribute {
			return w.attribute(v, depth)
		}
		return nil
	})
}

func (w walker) attribute(b []byte, depth int) error {
	return each(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case attrTensor, attrTensors:
			return w.tensor(v)
		case attrSparseTensor, attrSparseTensors:
			return w.sparse(v)
		case attrGraph, attrGraphs:
			return w.graph(v, depth+1)
		}
		return nil
	})
}

func (w walker) sparse(b []byte) error {
	return each(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ == protowire.BytesType && (num == sparseValues || num == sparseIndices) {
			return w.tensor(v)
		}
		return nil
	})
}

func (w walker) tensor(b []byte) error {
	t := externalTensor{length: -1}
	err := each(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == tensorDims && typ == protowire.VarintType:
			t.dims = append(t.dims, int64(x))
		case num == tensorDims && typ == protowire.BytesType: // packed
			for len(v) > 0 {
				d, n := protowire.ConsumeVarint(v)
				if n < 0 {
					return protowire.ParseError(n)
				}
				t.dims = append(t.dims, int64(d))
				v = v[n:]
			}
		case num == tensorDataType && typ == protowire.VarintType:
			t.dtype = x
		case num == tensorName && typ == protowire.BytesType:
			t.name = string(v)
		case num == tensorDataLocation && typ == protowire.VarintType:
			t.external = x == locationExternal
		case num == tensorExternalData && typ == protowire.BytesType:
			t.entries++
			if t.entries > maxExternalEntries {
				return fmt.Errorf("a tensor with more than %d external_data entries", maxExternalEntries)
			}
			return t.entry(v)
		}
		return nil
	})
	if err != nil || (!t.external && t.entries == 0) {
		return err
	}
	return w.found(t)
}

// entry reads one external_data key/value pair into t.
func (t *externalTensor) entry(b []byte) error {
	var key, value string
	err := each(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ == protowire.BytesType && num == entryKey {
			key = string(v)
		}
		if typ == protowire.BytesType && num == entryValue {
			value = string(v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	switch key {
	case "location":
		t.location, t.hasLoc = value, true
	case "offset":
		t.offset = parseSize(value)
	case "length":
		t.length = parseSize(value)
		if t.length == -1 {
			t.length = -2
		}
	case "checksum":
	default:
		if t.unknown == "" {
			t.unknown = key
		}
	}
	return nil
}

// parseSize reads a non-negative decimal integer; anything else is -1.
func parseSize(s string) int64 {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return -1
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return n
}
