package vmdisk

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// cpioEntry is one member of an initramfs.
type cpioEntry struct {
	Name   string // no leading slash
	Mode   uint32 // full st_mode (type and permissions)
	Data   []byte // file contents or symlink target
	RMajor uint32 // device numbers of character and block devices
	RMinor uint32
}

const (
	sIFDIR = 0o040000
	sIFREG = 0o100000
	sIFLNK = 0o120000
	sIFCHR = 0o020000
)

// writeCPIO writes entries as a "newc" cpio archive sorted by name, owned by root,
// every time set to epoch and inode numbers in order, followed by the trailer.
func writeCPIO(w io.Writer, entries []cpioEntry, epoch time.Time) error {
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b cpioEntry) int { return strings.Compare(a.Name, b.Name) })
	mtime := max(epoch.Unix(), 0)
	var off int64
	write := func(b []byte) error {
		n, err := w.Write(b)
		off += int64(n)
		return err
	}
	pad := func() error {
		if r := off % 4; r != 0 {
			return write(make([]byte, 4-r))
		}
		return nil
	}
	member := func(ino int, e cpioEntry) error {
		nlink := 1
		if e.Mode&0o170000 == sIFDIR {
			nlink = 2
		}
		hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			ino, e.Mode, 0, 0, nlink, mtime, len(e.Data), 0, 0, e.RMajor, e.RMinor, len(e.Name)+1, 0)
		if err := write([]byte(hdr + e.Name + "\x00")); err != nil {
			return err
		}
		if err := pad(); err != nil {
			return err
		}
		if err := write(e.Data); err != nil {
			return err
		}
		return pad()
	}
	for i, e := range sorted {
		if i > 0 && sorted[i-1].Name == e.Name {
			return fmt.Errorf("initramfs: %s added twice", e.Name)
		}
		if err := member(i+1, e); err != nil {
			return err
		}
	}
	if err := member(0, cpioEntry{Name: "TRAILER!!!"}); err != nil {
		return err
	}
	// Pad to 512 bytes, as cpio(1) does.
	if r := off % 512; r != 0 {
		return write(make([]byte, 512-r))
	}
	return nil
}
