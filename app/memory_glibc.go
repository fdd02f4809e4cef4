//go:build linux && cgo

package app

// #include <malloc.h>
//
// static void tp_malloc_arenas(int n) {
// #ifdef M_ARENA_MAX
// 	mallopt(M_ARENA_MAX, n);
// #endif
// }
//
// static void tp_malloc_trim(void) {
// #ifdef __GLIBC__
// 	malloc_trim(0);
// #endif
// }
import "C"

// SQLite allocates from the C heap (glibc malloc), outside the Go heap and
// its memory limit. Under the benchmark's bulk send SQLite itself used at
// most 37 MB, yet the C heap held about 60 MB more: glibc gives threads
// that allocate at once arenas of their own (up to 8 per core) and keeps
// what they free. Two arenas and a periodic trim give it back
// (make bench, server peak RSS). MALLOC_ARENA_MAX in the environment wins.

func limitMallocArenas(getenv func(string) string) {
	if getenv("MALLOC_ARENA_MAX") == "" {
		C.tp_malloc_arenas(2)
	}
}

// trimCHeap returns the C heap's free memory to the operating system.
func trimCHeap() { C.tp_malloc_trim() }
