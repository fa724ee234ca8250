//go:build !linux

package onnx

// tuneMalloc does nothing outside Linux (glibc).
func tuneMalloc() {}
