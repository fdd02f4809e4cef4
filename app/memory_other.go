//go:build !(linux && cgo)

package app

// The C heap tuning is glibc's (memory_glibc.go).

func limitMallocArenas(func(string) string) {}

func trimCHeap() {}
