package vmdisk

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf16"
)

const sectorSize = 512

var (
	espType       = mustGUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")
	linuxRootX64  = mustGUID("4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709")
	gptEntryCount = 128
	gptEntrySize  = 128
	// gptSectors is the sectors of one partition entry array.
	gptSectors = int64(gptEntryCount * gptEntrySize / sectorSize)
)

// partition is one GPT partition, in sectors.
type partition struct {
	Type, ID    GUID
	First, Last int64 // inclusive LBAs
	Name        string
	// Number is the partition's number (its 1-based GPT entry) as read by readGPT.
	Number int
}

// writeGPT writes the protective MBR, the primary and the backup GPT of a disk of
// sectors sectors.
func writeGPT(w io.WriterAt, sectors int64, disk GUID, parts []partition) error {
	mbr := make([]byte, sectorSize)
	e := mbr[446:462]
	e[1], e[2], e[3] = 0x00, 0x02, 0x00 // CHS of LBA 1
	e[4] = 0xEE
	e[5], e[6], e[7] = 0xFF, 0xFF, 0xFF
	binary.LittleEndian.PutUint32(e[8:], 1)
	size := sectors - 1
	if size > 0xFFFFFFFF {
		size = 0xFFFFFFFF
	}
	binary.LittleEndian.PutUint32(e[12:], uint32(size))
	mbr[510], mbr[511] = 0x55, 0xAA
	if _, err := w.WriteAt(mbr, 0); err != nil {
		return err
	}

	entries := make([]byte, gptEntryCount*gptEntrySize)
	for i, p := range parts {
		b := entries[i*gptEntrySize:]
		copy(b[0:16], p.Type[:])
		copy(b[16:32], p.ID[:])
		binary.LittleEndian.PutUint64(b[32:], uint64(p.First))
		binary.LittleEndian.PutUint64(b[40:], uint64(p.Last))
		name := utf16.Encode([]rune(p.Name))
		if len(name) > 36 {
			return fmt.Errorf("partition name %q is longer than 36 UTF-16 units", p.Name)
		}
		for j, u := range name {
			binary.LittleEndian.PutUint16(b[56+2*j:], u)
		}
	}
	entriesCRC := crc32.ChecksumIEEE(entries)
	header := func(my, alt, entriesLBA int64) []byte {
		h := make([]byte, sectorSize)
		copy(h, "EFI PART")
		binary.LittleEndian.PutUint32(h[8:], 0x00010000)
		binary.LittleEndian.PutUint32(h[12:], 92)
		binary.LittleEndian.PutUint64(h[24:], uint64(my))
		binary.LittleEndian.PutUint64(h[32:], uint64(alt))
		binary.LittleEndian.PutUint64(h[40:], uint64(2+gptSectors))
		binary.LittleEndian.PutUint64(h[48:], uint64(sectors-2-gptSectors))
		copy(h[56:72], disk[:])
		binary.LittleEndian.PutUint64(h[72:], uint64(entriesLBA))
		binary.LittleEndian.PutUint32(h[80:], uint32(gptEntryCount))
		binary.LittleEndian.PutUint32(h[84:], uint32(gptEntrySize))
		binary.LittleEndian.PutUint32(h[88:], entriesCRC)
		binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h[:92]))
		return h
	}
	last := sectors - 1
	for _, c := range []struct {
		at  int64
		buf []byte
	}{
		{1, header(1, last, 2)},
		{2, entries},
		{last - gptSectors, entries},
		{last, header(last, 1, last-gptSectors)},
	} {
		if _, err := w.WriteAt(c.buf, c.at*sectorSize); err != nil {
			return err
		}
	}
	return nil
}

// readGPT returns the partitions of a disk from its primary GPT.
func readGPT(r io.ReaderAt) ([]partition, error) {
	h := make([]byte, sectorSize)
	if _, err := r.ReadAt(h, sectorSize); err != nil {
		return nil, fmt.Errorf("reading the GPT header: %w", err)
	}
	if string(h[:8]) != "EFI PART" {
		return nil, fmt.Errorf("no GPT header at sector 1: not a reprobuild VM disk")
	}
	n := binary.LittleEndian.Uint32(h[80:])
	es := binary.LittleEndian.Uint32(h[84:])
	if n == 0 || n > 1024 || es < 128 || es > 4096 {
		return nil, fmt.Errorf("GPT header has %d entries of %d bytes: corrupt", n, es)
	}
	buf := make([]byte, int(n)*int(es))
	if _, err := r.ReadAt(buf, int64(binary.LittleEndian.Uint64(h[72:]))*sectorSize); err != nil {
		return nil, fmt.Errorf("reading the GPT entries: %w", err)
	}
	var parts []partition
	for i := 0; i < int(n); i++ {
		b := buf[i*int(es):]
		var p partition
		copy(p.Type[:], b[0:16])
		if p.Type == (GUID{}) {
			continue
		}
		copy(p.ID[:], b[16:32])
		p.First = int64(binary.LittleEndian.Uint64(b[32:]))
		p.Last = int64(binary.LittleEndian.Uint64(b[40:]))
		var u []uint16
		for j := 0; j < 36; j++ {
			c := binary.LittleEndian.Uint16(b[56+2*j:])
			if c == 0 {
				break
			}
			u = append(u, c)
		}
		p.Name = string(utf16.Decode(u))
		p.Number = i + 1
		parts = append(parts, p)
	}
	return parts, nil
}
