//go:build !linux

package onnx

// tuneMalloc does nothing outside Linux (glibc).
func tuneMalloc() {}

// trimMalloc does nothing outside Linux (glibc).
func trimMalloc() {}
