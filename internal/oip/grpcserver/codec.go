package grpcserver

import (
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	pb "github.com/mlserve/mlserve/internal/oip/inferencepb"
)

// codec is the door's gRPC codec: the protobuf codec it wraps for every
// message, except that a ModelInferResponse of the shape encodeInfer builds
// is written by appendInferResponse. The protobuf library sizes and writes
// its parameters map through reflection, a map iterator per pass: with the
// rest of the message it was about 4% of the server's CPU per single-text
// call.
//
// The fast path is fenced by plainInferResponse: only fields set from Go
// values the door chose (strings, shapes, raw contents, at most one string
// parameter), no unknown fields; any other message goes to the library.
// What it writes is byte for byte what the library's deterministic
// marshalling writes (TestCodecMatchesProto, FuzzCodecMatchesProto), so a
// client cannot tell them apart.
type codec struct{ encoding.CodecV2 }

// newCodec wraps the registered protobuf codec.
func newCodec() codec { return codec{encoding.GetCodecV2(grpcproto.Name)} }

// Marshal writes v into a buffer from the default pool.
func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	r, ok := v.(*pb.ModelInferResponse)
	if !ok || !plainInferResponse(r) {
		return c.CodecV2.Marshal(v)
	}
	size := sizeInferResponse(r)
	pool := mem.DefaultBufferPool()
	buf := pool.Get(size)
	if b := appendInferResponse((*buf)[:0], r); len(b) != size {
		// Unreachable while the two agree (the tests hold them to it).
		pool.Put(buf)
		return c.CodecV2.Marshal(v)
	}
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

// Field numbers of the messages appendInferResponse writes
// (proto/grpc_service.proto).
const (
	respModelName    = 1
	respModelVersion = 2
	respID           = 3
	respParameters   = 4
	respOutputs      = 5
	respRawOutputs   = 6

	outName     = 1
	outDatatype = 2
	outShape    = 3

	mapKey   = 1
	mapValue = 2

	paramString = 3
)

// plainInferResponse says r has only what appendInferResponse writes:
// outputs with name, datatype and shape (no parameters or contents), at
// most one parameter and that a string, no unknown fields anywhere, and
// every string UTF-8 (the library refuses to send one that is not).
func plainInferResponse(r *pb.ModelInferResponse) bool {
	if len(r.ProtoReflect().GetUnknown()) > 0 || len(r.Parameters) > 1 ||
		!utf8.ValidString(r.ModelName) || !utf8.ValidString(r.ModelVersion) || !utf8.ValidString(r.Id) {
		return false
	}
	for k, p := range r.Parameters {
		s, ok := p.GetParameterChoice().(*pb.InferParameter_StringParam)
		if !ok || len(p.ProtoReflect().GetUnknown()) > 0 || !utf8.ValidString(k) || !utf8.ValidString(s.StringParam) {
			return false
		}
	}
	for _, o := range r.Outputs {
		if o == nil || len(o.Parameters) > 0 || o.Contents != nil || len(o.ProtoReflect().GetUnknown()) > 0 ||
			!utf8.ValidString(o.Name) || !utf8.ValidString(o.Datatype) {
			return false
		}
	}
	return true
}

// sizeString is the size of a string field, 0 when it is empty (proto3
// leaves empty strings out).
func sizeString(num protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(len(s))
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// sizeShape is the size of a packed repeated int64's contents.
func sizeShape(shape []int64) int {
	n := 0
	for _, d := range shape {
		n += protowire.SizeVarint(uint64(d))
	}
	return n
}

// sizeOutput is the size of one output tensor's message.
func sizeOutput(o *pb.ModelInferResponse_InferOutputTensor) int {
	n := sizeString(outName, o.Name) + sizeString(outDatatype, o.Datatype)
	if len(o.Shape) > 0 {
		n += protowire.SizeTag(outShape) + protowire.SizeBytes(sizeShape(o.Shape))
	}
	return n
}

// sizeParamValue is the size of an InferParameter holding a string (a
// oneof's string is written even when empty).
func sizeParamValue(p *pb.InferParameter) int {
	return protowire.SizeTag(paramString) + protowire.SizeBytes(len(p.GetStringParam()))
}

// sizeParam is the size of one parameters map entry's message: the key
// (written even when empty, as map keys are), then the value.
func sizeParam(k string, p *pb.InferParameter) int {
	return protowire.SizeTag(mapKey) + protowire.SizeBytes(len(k)) + protowire.SizeTag(mapValue) + protowire.SizeBytes(sizeParamValue(p))
}

// sizeInferResponse is the size appendInferResponse writes for a plain r.
func sizeInferResponse(r *pb.ModelInferResponse) int {
	n := sizeString(respModelName, r.ModelName) + sizeString(respModelVersion, r.ModelVersion) + sizeString(respID, r.Id)
	for k, p := range r.Parameters {
		n += protowire.SizeTag(respParameters) + protowire.SizeBytes(sizeParam(k, p))
	}
	for _, o := range r.Outputs {
		n += protowire.SizeTag(respOutputs) + protowire.SizeBytes(sizeOutput(o))
	}
	for _, raw := range r.RawOutputContents {
		n += protowire.SizeTag(respRawOutputs) + protowire.SizeBytes(len(raw))
	}
	return n
}

// appendInferResponse appends a plain r in protobuf wire format, fields in
// number order as the protobuf library writes them.
func appendInferResponse(b []byte, r *pb.ModelInferResponse) []byte {
	b = appendString(b, respModelName, r.ModelName)
	b = appendString(b, respModelVersion, r.ModelVersion)
	b = appendString(b, respID, r.Id)
	for k, p := range r.Parameters {
		b = protowire.AppendTag(b, respParameters, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeParam(k, p)))
		b = protowire.AppendTag(b, mapKey, protowire.BytesType)
		b = protowire.AppendString(b, k)
		b = protowire.AppendTag(b, mapValue, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeParamValue(p)))
		b = protowire.AppendTag(b, paramString, protowire.BytesType)
		b = protowire.AppendString(b, p.GetStringParam())
	}
	for _, o := range r.Outputs {
		b = protowire.AppendTag(b, respOutputs, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeOutput(o)))
		b = appendString(b, outName, o.Name)
		b = appendString(b, outDatatype, o.Datatype)
		if len(o.Shape) > 0 {
			b = protowire.AppendTag(b, outShape, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(sizeShape(o.Shape)))
			for _, d := range o.Shape {
				b = protowire.AppendVarint(b, uint64(d))
			}
		}
	}
	for _, raw := range r.RawOutputContents {
		b = protowire.AppendTag(b, respRawOutputs, protowire.BytesType)
		b = protowire.AppendBytes(b, raw)
	}
	return b
}
