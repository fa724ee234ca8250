package onnx

import "runtime/debug"

// releaseLoadMemory returns to the kernel what loading a model left free:
// Go's heap holds the garbage of parsing the manifest, tokenizer and
// classifier (which a server that loads its models and then idles would not
// collect for a long time), glibc the buffers ONNX Runtime freed once the
// session existed. It runs once per load, never on the request path: a
// forced collection costs a few milliseconds.
func releaseLoadMemory() {
	debug.FreeOSMemory()
	trimMalloc()
}
