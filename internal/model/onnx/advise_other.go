//go:build !linux

package onnx

// dropCached does nothing where the page-cache advice is Linux's.
func dropCached([]string) {}

// adviseRandom does nothing where the mapping advice is Linux's.
func adviseRandom([]string) int { return 0 }
