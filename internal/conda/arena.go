package conda

import "unsafe"

// stringArena hands out strings carved from large byte blocks: one allocation per
// block instead of one per string, and no per-string size-class rounding. A block's
// bytes are never written again once a string refers to them.
type stringArena struct {
	block []byte
}

const arenaBlock = 256 << 10

func (a *stringArena) reserve(n int) []byte {
	if cap(a.block)-len(a.block) < n {
		size := arenaBlock
		if n > size/4 {
			// Large strings get their own allocation.
			return make([]byte, 0, n)
		}
		a.block = make([]byte, 0, size)
	}
	start := len(a.block)
	a.block = a.block[:start+n]
	return a.block[start : start : start+n]
}

func (a *stringArena) alloc(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	dst := append(a.reserve(len(b)), b...)
	return unsafe.String(unsafe.SliceData(dst), len(dst))
}

func (a *stringArena) concat(x, y string) string {
	n := len(x) + len(y)
	if n == 0 {
		return ""
	}
	dst := a.reserve(n)
	dst = append(dst, x...)
	dst = append(dst, y...)
	return unsafe.String(unsafe.SliceData(dst), len(dst))
}

// listArena hands out string slices carved from large blocks. tmp collects the
// entries of the list being decoded.
type listArena struct {
	block []string
	tmp   []string
}

const listBlock = 16 << 10

// take moves tmp[start:] into the arena and returns it as a full (len == cap) slice.
func (a *listArena) take(start int) []string {
	items := a.tmp[start:]
	n := len(items)
	if n == 0 {
		a.tmp = a.tmp[:start]
		return []string{}
	}
	if cap(a.block)-len(a.block) < n {
		size := listBlock
		if n > size/4 {
			out := make([]string, n)
			copy(out, items)
			a.tmp = a.tmp[:start]
			return out
		}
		a.block = make([]string, 0, size)
	}
	s := len(a.block)
	a.block = append(a.block, items...)
	a.tmp = a.tmp[:start]
	return a.block[s : s+n : s+n]
}
