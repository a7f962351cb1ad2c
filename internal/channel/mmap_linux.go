package channel

import (
	"os"
	"syscall"
)

// mapFile maps size bytes of f read-only, with every page mapped up front
// (MAP_POPULATE: one system call instead of a page fault per 4 KiB). The mapping is
// private and is never unmapped by the caller once strings point into it.
func mapFile(f *os.File, size int) ([]byte, error) {
	return syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_PRIVATE|syscall.MAP_POPULATE)
}

func unmapFile(b []byte) { _ = syscall.Munmap(b) }
