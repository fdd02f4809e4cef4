//go:build !(linux && cgo)

package app

// The C heap tuning is glibc's (cmem_glibc.go).

func limitMallocArenas(func(string) string) {}

func trimCHeap() {}
