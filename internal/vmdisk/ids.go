package vmdisk

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// GUID is a GUID in its on-disk (mixed-endian) byte order.
type GUID [16]byte

// String formats g the way tools print it (first three fields little-endian on disk).
func (g GUID) String() string {
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X",
		binary.LittleEndian.Uint32(g[0:4]), binary.LittleEndian.Uint16(g[4:6]),
		binary.LittleEndian.Uint16(g[6:8]), g[8:10], g[10:16])
}

// mustGUID parses the textual form of a GUID into its on-disk bytes.
func mustGUID(s string) GUID {
	var g GUID
	var a uint32
	var b, c uint16
	var d [8]byte
	_, err := fmt.Sscanf(s, "%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X",
		&a, &b, &c, &d[0], &d[1], &d[2], &d[3], &d[4], &d[5], &d[6], &d[7])
	if err != nil {
		panic("vmdisk: bad GUID literal " + s)
	}
	binary.LittleEndian.PutUint32(g[0:4], a)
	binary.LittleEndian.PutUint16(g[4:6], b)
	binary.LittleEndian.PutUint16(g[6:8], c)
	copy(g[8:], d[:])
	return g
}

// derive returns n bytes derived from seed and a purpose label.
func derive(seed, label string, n int) []byte {
	h := sha256.Sum256([]byte("reprobuild-vm\x00" + seed + "\x00" + label))
	return h[:n]
}

// deriveGUID is a version-4-shaped GUID derived from seed and label.
func deriveGUID(seed, label string) GUID {
	var g GUID
	copy(g[:], derive(seed, label, 16))
	g[7] = g[7]&0x0f | 0x40 // version 4 (high nibble of the third field, little-endian)
	g[8] = g[8]&0x3f | 0x80 // RFC 4122 variant
	return g
}

// deriveUUID is an RFC 4122 version-4-shaped UUID string (big-endian text order).
func deriveUUID(seed, label string) string {
	b := derive(seed, label, 16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
