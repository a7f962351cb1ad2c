package vmdisk

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf16"
)

// fatFile is a file of the EFI system partition: a slash-separated path and its bytes.
type fatFile struct {
	Path string
	Data []byte
}

type fatNode struct {
	name     string
	dir      bool
	data     []byte
	children []*fatNode
	cluster  uint32
	short    [11]byte
	long     bool
}

const (
	fatReserved  = 32
	fatEOC       = 0x0FFFFFFF
	minFAT32Clus = 65525
)

// writeFAT32 formats a FAT32 file system of sectors 512-byte sectors (one sector per
// cluster) holding files, every time stamp set to epoch. hidden is the partition's
// first LBA (recorded in the boot sector).
func writeFAT32(sectors int64, hidden int64, volID uint32, label string, epoch time.Time, files []fatFile) ([]byte, error) {
	fatSz := int64(1)
	var clusters int64
	for {
		clusters = sectors - fatReserved - 2*fatSz
		need := ((clusters+2)*4 + sectorSize - 1) / sectorSize
		if need <= fatSz {
			break
		}
		fatSz = need
	}
	if clusters < minFAT32Clus {
		return nil, fmt.Errorf("EFI partition of %d sectors is too small for FAT32", sectors)
	}
	root := &fatNode{dir: true}
	for _, f := range files {
		parts := strings.Split(strings.Trim(f.Path, "/"), "/")
		d := root
		for i, p := range parts {
			var next *fatNode
			for _, c := range d.children {
				if strings.EqualFold(c.name, p) {
					next = c
				}
			}
			if next == nil {
				next = &fatNode{name: p, dir: i < len(parts)-1}
				d.children = append(d.children, next)
			}
			if i == len(parts)-1 {
				if next.dir {
					return nil, fmt.Errorf("EFI partition: %s is both a file and a directory", f.Path)
				}
				next.data = f.Data
			}
			d = next
		}
	}

	img := make([]byte, sectors*sectorSize)
	fat := make([]uint32, clusters+2)
	fat[0], fat[1] = 0x0FFFFFF8, fatEOC
	next := uint32(2)
	alloc := func(n int64) (uint32, error) {
		if n == 0 {
			return 0, nil
		}
		if int64(next)+n > clusters+2 {
			return 0, fmt.Errorf("EFI partition of %d MiB is too small for its files", sectors*sectorSize>>20)
		}
		first := next
		for i := int64(0); i < n; i++ {
			c := next + uint32(i)
			fat[c] = c + 1
		}
		next += uint32(n)
		fat[next-1] = fatEOC
		return first, nil
	}
	var allocDir func(d *fatNode, isRoot bool) error
	allocDir = func(d *fatNode, isRoot bool) error {
		slices.SortFunc(d.children, func(a, b *fatNode) int { return strings.Compare(a.name, b.name) })
		entries := 1 // the volume label, or "." and ".."
		if !isRoot {
			entries = 2
		}
		for i, c := range d.children {
			c.short, c.long = shortName(c.name, i)
			entries++
			if c.long {
				entries += (len(utf16.Encode([]rune(c.name))) + 12) / 13
			}
		}
		var err error
		if d.cluster, err = alloc(max(1, int64(entries*32+sectorSize-1)/sectorSize)); err != nil {
			return err
		}
		for _, c := range d.children {
			if c.dir {
				if err := allocDir(c, false); err != nil {
					return err
				}
			} else if c.cluster, err = alloc(int64(len(c.data)+sectorSize-1) / sectorSize); err != nil {
				return err
			}
		}
		return nil
	}
	if err := allocDir(root, true); err != nil {
		return nil, err
	}
	dataStart := int64(fatReserved + 2*fatSz)
	clusterOff := func(c uint32) int64 { return (dataStart + int64(c) - 2) * sectorSize }
	dt, tm := dosTime(epoch)
	entry := func(short [11]byte, attr byte, cluster uint32, size uint32) []byte {
		e := make([]byte, 32)
		copy(e, short[:])
		e[11] = attr
		binary.LittleEndian.PutUint16(e[14:], tm)
		binary.LittleEndian.PutUint16(e[16:], dt)
		binary.LittleEndian.PutUint16(e[18:], dt)
		binary.LittleEndian.PutUint16(e[20:], uint16(cluster>>16))
		binary.LittleEndian.PutUint16(e[22:], tm)
		binary.LittleEndian.PutUint16(e[24:], dt)
		binary.LittleEndian.PutUint16(e[26:], uint16(cluster))
		binary.LittleEndian.PutUint32(e[28:], size)
		return e
	}
	var writeDir func(d *fatNode, parent uint32, isRoot bool)
	writeDir = func(d *fatNode, parent uint32, isRoot bool) {
		var buf bytes.Buffer
		if isRoot {
			var l [11]byte
			copy(l[:], fmt.Sprintf("%-11.11s", strings.ToUpper(label)))
			buf.Write(entry(l, 0x08, 0, 0))
		} else {
			buf.Write(entry([11]byte{'.', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '}, 0x10, d.cluster, 0))
			buf.Write(entry([11]byte{'.', '.', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '}, 0x10, parent, 0))
		}
		for _, c := range d.children {
			if c.long {
				buf.Write(lfnEntries(c.name, c.short))
			}
			if c.dir {
				buf.Write(entry(c.short, 0x10, c.cluster, 0))
			} else {
				buf.Write(entry(c.short, 0x20, c.cluster, uint32(len(c.data))))
				copy(img[clusterOff(c.cluster):], c.data)
			}
		}
		copy(img[clusterOff(d.cluster):], buf.Bytes())
		self := d.cluster
		if isRoot {
			self = 0
		}
		for _, c := range d.children {
			if c.dir {
				writeDir(c, self, false)
			}
		}
	}
	writeDir(root, 0, true)

	bs := img[:sectorSize]
	copy(bs, []byte{0xEB, 0x58, 0x90})
	copy(bs[3:], "MSWIN4.1")
	binary.LittleEndian.PutUint16(bs[11:], sectorSize)
	bs[13] = 1
	binary.LittleEndian.PutUint16(bs[14:], fatReserved)
	bs[16] = 2
	bs[21] = 0xF8
	binary.LittleEndian.PutUint16(bs[24:], 63)
	binary.LittleEndian.PutUint16(bs[26:], 255)
	binary.LittleEndian.PutUint32(bs[28:], uint32(hidden))
	binary.LittleEndian.PutUint32(bs[32:], uint32(sectors))
	binary.LittleEndian.PutUint32(bs[36:], uint32(fatSz))
	binary.LittleEndian.PutUint32(bs[44:], 2)
	binary.LittleEndian.PutUint16(bs[48:], 1)
	binary.LittleEndian.PutUint16(bs[50:], 6)
	bs[64] = 0x80
	bs[66] = 0x29
	binary.LittleEndian.PutUint32(bs[67:], volID)
	copy(bs[71:82], fmt.Sprintf("%-11.11s", strings.ToUpper(label)))
	copy(bs[82:90], "FAT32   ")
	bs[510], bs[511] = 0x55, 0xAA
	fsinfo := img[sectorSize : 2*sectorSize]
	binary.LittleEndian.PutUint32(fsinfo[0:], 0x41615252)
	binary.LittleEndian.PutUint32(fsinfo[484:], 0x61417272)
	binary.LittleEndian.PutUint32(fsinfo[488:], uint32(clusters+2-int64(next)))
	binary.LittleEndian.PutUint32(fsinfo[492:], next)
	binary.LittleEndian.PutUint32(fsinfo[508:], 0xAA550000)
	copy(img[6*sectorSize:], img[:2*sectorSize])
	for i := int64(0); i < 2; i++ {
		off := (fatReserved + i*fatSz) * sectorSize
		for c, v := range fat {
			binary.LittleEndian.PutUint32(img[off+int64(c)*4:], v)
		}
	}
	return img, nil
}

// dosTime is t as a FAT date and time (two-second resolution, 1980..2107).
func dosTime(t time.Time) (date, tm uint16) {
	t = t.UTC()
	if t.Year() < 1980 {
		t = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if t.Year() > 2107 {
		t = time.Date(2107, 12, 31, 23, 59, 58, 0, time.UTC)
	}
	date = uint16((t.Year()-1980)<<9 | int(t.Month())<<5 | t.Day())
	tm = uint16(t.Hour()<<11 | t.Minute()<<5 | t.Second()/2)
	return date, tm
}

// shortName is the 8.3 name of name and whether a long-name entry is needed; i makes
// generated short names unique within a directory.
func shortName(name string, i int) ([11]byte, bool) {
	var s [11]byte
	for j := range s {
		s[j] = ' '
	}
	base, ext := name, ""
	if k := strings.LastIndex(name, "."); k > 0 {
		base, ext = name[:k], name[k+1:]
	}
	valid := func(x string) bool {
		for _, r := range x {
			if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				return false
			}
		}
		return true
	}
	if len(base) <= 8 && len(ext) <= 3 && base != "" && valid(base) && valid(ext) {
		copy(s[:8], base)
		copy(s[8:], ext)
		return s, false
	}
	clean := func(x string, n int) string {
		var b strings.Builder
		for _, r := range strings.ToUpper(x) {
			if b.Len() >= n {
				break
			}
			if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	tail := fmt.Sprintf("~%d", i+1)
	copy(s[:8], clean(base, 8-len(tail))+tail)
	copy(s[8:], clean(ext, 3))
	return s, true
}

func lfnChecksum(short [11]byte) byte {
	var sum byte
	for _, c := range short {
		sum = (sum&1)<<7 + sum>>1 + c
	}
	return sum
}

// lfnEntries are the long-name directory entries of name, in on-disk order.
func lfnEntries(name string, short [11]byte) []byte {
	u := utf16.Encode([]rune(name))
	n := (len(u) + 12) / 13
	padded := make([]uint16, n*13)
	for i := range padded {
		switch {
		case i < len(u):
			padded[i] = u[i]
		case i == len(u):
			padded[i] = 0
		default:
			padded[i] = 0xFFFF
		}
	}
	sum := lfnChecksum(short)
	out := make([]byte, 0, n*32)
	for k := n; k >= 1; k-- {
		e := make([]byte, 32)
		e[0] = byte(k)
		if k == n {
			e[0] |= 0x40
		}
		e[11] = 0x0F
		e[13] = sum
		ch := padded[(k-1)*13 : k*13]
		offs := []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30}
		for j, o := range offs {
			binary.LittleEndian.PutUint16(e[o:], ch[j])
		}
		out = append(out, e...)
	}
	return out
}

// readFATFile reads the file at slash-separated path p from the FAT32 file system in r.
func readFATFile(r io.ReaderAt, p string) ([]byte, error) {
	bs := make([]byte, sectorSize)
	if _, err := r.ReadAt(bs, 0); err != nil {
		return nil, err
	}
	if string(bs[82:87]) != "FAT32" || bs[510] != 0x55 || bs[511] != 0xAA {
		return nil, fmt.Errorf("EFI partition is not FAT32")
	}
	bps := int64(binary.LittleEndian.Uint16(bs[11:]))
	spc := int64(bs[13])
	reserved := int64(binary.LittleEndian.Uint16(bs[14:]))
	nfats := int64(bs[16])
	fatSz := int64(binary.LittleEndian.Uint32(bs[36:]))
	rootClus := binary.LittleEndian.Uint32(bs[44:])
	if bps != sectorSize || spc == 0 {
		return nil, fmt.Errorf("EFI partition has %d-byte sectors, %d per cluster: unsupported", bps, spc)
	}
	csize := spc * bps
	dataStart := (reserved + nfats*fatSz) * bps
	chain := func(c uint32, size int64) ([]byte, error) {
		var out []byte
		for n := 0; c >= 2 && c < 0x0FFFFFF8; n++ {
			if n > 1<<20 {
				return nil, fmt.Errorf("EFI partition: cluster chain loops")
			}
			buf := make([]byte, csize)
			if _, err := r.ReadAt(buf, dataStart+int64(c-2)*csize); err != nil {
				return nil, err
			}
			out = append(out, buf...)
			var fe [4]byte
			if _, err := r.ReadAt(fe[:], reserved*bps+int64(c)*4); err != nil {
				return nil, err
			}
			c = binary.LittleEndian.Uint32(fe[:]) & 0x0FFFFFFF
			if size >= 0 && int64(len(out)) >= size {
				break
			}
		}
		if size >= 0 {
			if int64(len(out)) < size {
				return nil, fmt.Errorf("EFI partition: file shorter than its size")
			}
			out = out[:size]
		}
		return out, nil
	}
	cur, isDir := rootClus, true
	var size int64 = -1
	for _, name := range strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/") {
		if !isDir {
			return nil, fmt.Errorf("EFI partition: %s: not a directory", p)
		}
		dir, err := chain(cur, -1)
		if err != nil {
			return nil, err
		}
		found := false
		var long []uint16
		for i := 0; i+32 <= len(dir); i += 32 {
			e := dir[i : i+32]
			if e[0] == 0 {
				break
			}
			if e[0] == 0xE5 {
				long = nil
				continue
			}
			if e[11] == 0x0F {
				var part []uint16
				for _, o := range []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30} {
					part = append(part, binary.LittleEndian.Uint16(e[o:]))
				}
				long = append(part, long...)
				continue
			}
			if e[11]&0x08 != 0 { // volume label
				long = nil
				continue
			}
			n := strings.TrimRight(string(e[:8]), " ")
			if x := strings.TrimRight(string(e[8:11]), " "); x != "" {
				n += "." + x
			}
			if long != nil {
				if k := slices.Index(long, 0); k >= 0 {
					long = long[:k]
				}
				n = string(utf16.Decode(long))
			}
			long = nil
			if strings.EqualFold(n, name) {
				cur = uint32(binary.LittleEndian.Uint16(e[20:]))<<16 | uint32(binary.LittleEndian.Uint16(e[26:]))
				isDir = e[11]&0x10 != 0
				size = int64(binary.LittleEndian.Uint32(e[28:]))
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("EFI partition has no %s: %w", p, fs.ErrNotExist)
		}
	}
	if isDir {
		return nil, fmt.Errorf("EFI partition: %s is a directory", p)
	}
	return chain(cur, size)
}
