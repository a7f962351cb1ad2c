package channel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// The compact form of parsed repodata, written to the cache so that a warm lock reads
// fixed-width tables instead of parsing JSON. Every distinct string is stored once in a
// blob and referred to by position; every distinct list (depends, constrains, ...) is
// stored once and referred to by index. All integers are little-endian:
//
//	magic "RBRD\x04"
//	u32 blob size, u32 nlists, u32 nelems, u32 nrecords
//	the blob
//	nlists x u32 list lengths, then nelems x 8-byte string refs (the lists' elements)
//	string refs subdir, base_url; u32 list ref removed
//	nrecords x 140-byte records (recordSize; field offsets in the rec* constants)
//
// A string ref is u32 offset into the blob then u32 length. A list ref is 0 for nil,
// else 1 + the list's index, so nil and empty survive the round trip. The fn ref may
// instead be offset fnSuffix with the length of fn, when fn is the tail of url after its
// last "/" (the usual case, so the name is not stored twice). Fixed widths and direct
// offsets let the decoder fill a record from constant positions with one bounds check
// per string and no table lookups.
const compactMagic = "RBRD\x04"

const (
	// string refs, 8 bytes each
	recName = 8 * iota
	recVersion
	recBuild
	recFeatures
	recNoarch
	recSubdir
	recLicense
	recLicenseFamily
	recMD5
	recSHA256
	recURL
	recFn
	recChannel
	// list refs, 4 bytes each
	recDepends
	recConstrains    = recDepends + 4
	recTrackFeatures = recConstrains + 4
	// integers, 8 bytes each
	recBuildNumber = recTrackFeatures + 4
	recSize        = recBuildNumber + 8
	recTimestamp   = recSize + 8
	recordSize     = recTimestamp + 8

	fnSuffix   = 1<<32 - 1
	headerSize = len(compactMagic) + 16
)

var errCompact = errors.New("malformed compact repodata")

type compactEncoder struct {
	at      map[string]uint32
	blob    []byte
	listIdx map[string]uint32
	lists   [][]string
	elems   int
}

// ref returns the string ref of s, adding s to the blob the first time.
func (e *compactEncoder) ref(s string) uint64 {
	off, ok := e.at[s]
	if !ok {
		off = uint32(len(e.blob))
		e.at[s] = off
		e.blob = append(e.blob, s...)
	}
	return uint64(off) | uint64(len(s))<<32
}

// unique stores s without looking it up: for fields that are nearly always distinct
// (hashes, URLs) a lookup table would cost more than the rare repeat it saves.
func (e *compactEncoder) unique(s string) uint64 {
	off := uint32(len(e.blob))
	e.blob = append(e.blob, s...)
	return uint64(off) | uint64(len(s))<<32
}

func (e *compactEncoder) list(l []string) uint32 {
	if l == nil {
		return 0
	}
	// Repodata strings may hold any byte, so the key is length-prefixed.
	var key []byte
	for _, s := range l {
		key = binary.AppendUvarint(key, uint64(len(s)))
		key = append(key, s...)
	}
	i, ok := e.listIdx[string(key)]
	if !ok {
		i = uint32(len(e.lists))
		e.listIdx[string(key)] = i
		e.lists = append(e.lists, l)
		e.elems += len(l)
		for _, s := range l {
			e.ref(s)
		}
	}
	return i + 1
}

// encodeCompact serialises rd. Repodata too big for 32-bit offsets (over 4 GiB of
// distinct strings) has no compact form: the result is nil and the JSON is parsed
// every time.
func encodeCompact(rd *conda.Repodata) []byte {
	var b bytes.Buffer
	if ok, _ := writeCompact(&b, rd); !ok {
		return nil
	}
	return b.Bytes()
}

// writeCompact writes rd's compact form to w, in parts (the form is never all in one
// buffer beside the records). ok is false, and nothing is written, for repodata too big
// for 32-bit offsets.
func writeCompact(w io.Writer, rd *conda.Repodata) (ok bool, err error) {
	const max = 1<<32 - 1
	e := &compactEncoder{at: map[string]uint32{}, listIdx: map[string]uint32{}}
	// The distinct fields alone are most of the blob: reserve them, plus room for the
	// shared strings, so that it is not regrown (and copied) a dozen times.
	reserve := 1 << 20
	for i := range rd.Packages {
		r := &rd.Packages[i]
		reserve += len(r.MD5) + len(r.SHA256) + len(r.URL)
	}
	e.blob = make([]byte, 0, reserve+reserve/8)
	recs := make([]byte, len(rd.Packages)*recordSize)
	le := binary.LittleEndian
	for i := range rd.Packages {
		r := &rd.Packages[i]
		b := (*[recordSize]byte)(recs[i*recordSize:])
		le.PutUint64(b[recName:], e.ref(r.Name))
		le.PutUint64(b[recVersion:], e.ref(r.Version))
		le.PutUint64(b[recBuild:], e.ref(r.Build))
		le.PutUint64(b[recFeatures:], e.ref(r.Features))
		le.PutUint64(b[recNoarch:], e.ref(r.Noarch))
		le.PutUint64(b[recSubdir:], e.ref(r.Subdir))
		le.PutUint64(b[recLicense:], e.ref(r.License))
		le.PutUint64(b[recLicenseFamily:], e.ref(r.LicenseFamily))
		le.PutUint64(b[recMD5:], e.unique(r.MD5))
		le.PutUint64(b[recSHA256:], e.unique(r.SHA256))
		le.PutUint64(b[recURL:], e.unique(r.URL))
		if r.Fn != "" && strings.HasSuffix(r.URL, "/"+r.Fn) {
			le.PutUint64(b[recFn:], fnSuffix|uint64(len(r.Fn))<<32)
		} else {
			le.PutUint64(b[recFn:], e.ref(r.Fn))
		}
		le.PutUint64(b[recChannel:], e.ref(r.Channel))
		le.PutUint32(b[recDepends:], e.list(r.Depends))
		le.PutUint32(b[recConstrains:], e.list(r.Constrains))
		le.PutUint32(b[recTrackFeatures:], e.list(r.TrackFeatures))
		le.PutUint64(b[recBuildNumber:], uint64(r.BuildNumber))
		le.PutUint64(b[recSize:], uint64(r.Size))
		le.PutUint64(b[recTimestamp:], uint64(r.Timestamp))
	}
	subdir, baseURL, removed := e.ref(rd.Info.Subdir), e.ref(rd.Info.BaseURL), e.list(rd.Removed)
	// Offsets wrap silently past 4 GiB, so such input is refused after the fact.
	if len(e.blob) >= max || len(e.lists) >= max || e.elems >= max || len(rd.Packages) >= max {
		return false, nil
	}
	out := make([]byte, 0, headerSize)
	out = append(out, compactMagic...)
	for _, n := range []int{len(e.blob), len(e.lists), e.elems, len(rd.Packages)} {
		out = le.AppendUint32(out, uint32(n))
	}
	if _, err := w.Write(out); err != nil {
		return false, err
	}
	if _, err := w.Write(e.blob); err != nil {
		return false, err
	}
	out = out[:0]
	for _, l := range e.lists {
		out = le.AppendUint32(out, uint32(len(l)))
	}
	for _, l := range e.lists {
		for _, s := range l {
			out = le.AppendUint64(out, e.ref(s))
		}
	}
	out = le.AppendUint64(out, subdir)
	out = le.AppendUint64(out, baseURL)
	out = le.AppendUint32(out, removed)
	if _, err := w.Write(out); err != nil {
		return false, err
	}
	if _, err := w.Write(recs); err != nil {
		return false, err
	}
	return true, nil
}

// blobString returns the string a ref names, a substring of blob (no bytes are copied);
// ok is false when the ref points outside blob.
func blobString(blob string, ref uint64) (s string, ok bool) {
	off, n := ref&0xffffffff, ref>>32
	if n == 0 {
		return "", true
	}
	if off+n > uint64(len(blob)) {
		return "", false
	}
	return blob[off : off+n], true
}

// decodeRecords fills dst from len(dst) fixed-width records. It reports false if any
// reference points outside blob or lists.
func decodeRecords(dst []conda.PackageRecord, recs []byte, blob string, lists [][]string) bool {
	le := binary.LittleEndian
	if len(recs) != len(dst)*recordSize {
		return false
	}
	// bad collects every failed check; one test after the loop keeps it branch-light.
	bad := false
	// Fields are only stored when non-empty: the records start zeroed, and while the
	// garbage collector is marking every pointer store costs a write barrier.
	base, size := unsafe.StringData(blob), uint64(len(blob))
	str := func(to *string, ref uint64) {
		// blobString, spelled out: this is the innermost loop.
		if off, n := ref&0xffffffff, ref>>32; n != 0 {
			if off+n > size {
				bad = true
				return
			}
			*to = unsafe.String((*byte)(unsafe.Add(unsafe.Pointer(base), off)), int(n))
		}
	}
	lst := func(to *[]string, ref uint32) {
		if ref != 0 {
			if uint64(ref) > uint64(len(lists)) {
				bad = true
				return
			}
			*to = lists[ref-1]
		}
	}
	for i := range dst {
		b := (*[recordSize]byte)(recs[i*recordSize:])
		r := &dst[i]
		str(&r.Name, le.Uint64(b[recName:]))
		str(&r.Version, le.Uint64(b[recVersion:]))
		str(&r.Build, le.Uint64(b[recBuild:]))
		r.BuildNumber = int64(le.Uint64(b[recBuildNumber:]))
		lst(&r.Depends, le.Uint32(b[recDepends:]))
		lst(&r.Constrains, le.Uint32(b[recConstrains:]))
		lst(&r.TrackFeatures, le.Uint32(b[recTrackFeatures:]))
		str(&r.Features, le.Uint64(b[recFeatures:]))
		str(&r.Noarch, le.Uint64(b[recNoarch:]))
		str(&r.Subdir, le.Uint64(b[recSubdir:]))
		str(&r.License, le.Uint64(b[recLicense:]))
		str(&r.LicenseFamily, le.Uint64(b[recLicenseFamily:]))
		str(&r.MD5, le.Uint64(b[recMD5:]))
		str(&r.SHA256, le.Uint64(b[recSHA256:]))
		r.Size = int64(le.Uint64(b[recSize:]))
		r.Timestamp = int64(le.Uint64(b[recTimestamp:]))
		str(&r.URL, le.Uint64(b[recURL:]))
		if fn := le.Uint64(b[recFn:]); fn&0xffffffff == fnSuffix {
			// fn is the tail of url after a "/".
			n := int(fn >> 32)
			if n == 0 || n >= len(r.URL) || r.URL[len(r.URL)-n-1] != '/' {
				bad = true
			} else {
				r.Fn = r.URL[len(r.URL)-n:]
			}
		} else {
			str(&r.Fn, fn)
		}
		str(&r.Channel, le.Uint64(b[recChannel:]))
	}
	return !bad
}

// compactSizes reads the header: the blob's size and the size of the tables after it.
func compactSizes(head []byte) (blob, tables uint64, ok bool) {
	if len(head) < headerSize || string(head[:len(compactMagic)]) != compactMagic {
		return 0, 0, false
	}
	le := binary.LittleEndian
	h := head[len(compactMagic):headerSize]
	nb, nl, ne, nr := uint64(le.Uint32(h)), uint64(le.Uint32(h[4:])), uint64(le.Uint32(h[8:])), uint64(le.Uint32(h[12:]))
	return nb, 4*nl + 8*ne + 20 + nr*recordSize, true
}

// decodeCompact parses encodeCompact output. Records with equal lists share one backing
// array (capacity = length, so appending copies; elements must not be assigned in
// place). It never panics on bad input; anything malformed is errCompact and the caller
// re-parses the JSON.
func decodeCompact(data []byte) (*conda.Repodata, error) {
	nb, nt, ok := compactSizes(data)
	if !ok || uint64(len(data)) != uint64(headerSize)+nb+nt {
		return nil, errCompact
	}
	return decodeCompactParts(data[:headerSize], string(data[headerSize:uint64(headerSize)+nb]), data[uint64(headerSize)+nb:])
}

// decodeCompactParts decodes a compact form read in three parts: the header, the blob
// and the tables. Every string in the result is a substring of blob; the header and
// tables may be reused as soon as it returns.
func decodeCompactParts(head []byte, blob string, rest []byte) (*conda.Repodata, error) {
	le := binary.LittleEndian
	nb, nt, ok := compactSizes(head)
	// The sizes must add up exactly before anything is allocated.
	if !ok || nb != uint64(len(blob)) || nt != uint64(len(rest)) {
		return nil, errCompact
	}
	h := head[len(compactMagic):headerSize]
	nl, ne, nr := uint64(le.Uint32(h[4:])), uint64(le.Uint32(h[8:])), uint64(le.Uint32(h[12:]))
	lens, refs := rest[:4*nl], rest[4*nl:4*nl+8*ne]
	rest = rest[4*nl+8*ne:]
	lists := make([][]string, nl)
	elems := make([]string, ne)
	for i := range lists {
		n := uint64(le.Uint32(lens[4*i:]))
		if n > uint64(len(elems)) {
			return nil, errCompact
		}
		l := elems[:n:n]
		elems = elems[n:]
		for j := range l {
			s, good := blobString(blob, le.Uint64(refs))
			l[j], ok = s, ok && good
			refs = refs[8:]
		}
		lists[i] = l
	}
	if !ok || len(elems) != 0 {
		return nil, errCompact
	}
	list := func(ref uint32) []string {
		if ref == 0 {
			return nil
		}
		if uint64(ref) > uint64(len(lists)) {
			ok = false
			return nil
		}
		return lists[ref-1]
	}
	rd := &conda.Repodata{}
	var ok1, ok2 bool
	rd.Info.Subdir, ok1 = blobString(blob, le.Uint64(rest))
	rd.Info.BaseURL, ok2 = blobString(blob, le.Uint64(rest[8:]))
	rd.Removed = list(le.Uint32(rest[16:]))
	if !ok || !ok1 || !ok2 {
		return nil, errCompact
	}
	recs := rest[20:]
	rd.Packages = make([]conda.PackageRecord, nr)
	if !decodeRecords(rd.Packages, recs, blob, lists) {
		return nil, errCompact
	}
	return rd, nil
}

// readCompact loads and decodes a compact cache file.
//
// On Linux the file is mapped read-only and the blob is used in place: the strings of
// the result point into the mapping, which is therefore never unmapped (it lives as
// long as the process, like git's mapped pack files; the kernel shares its pages with
// the page cache). This skips copying the file and leaves the garbage collector
// 0.5 MB less heap per conda-forge subdir. Cache files are only ever replaced by rename,
// never truncated in place, so the mapped pages stay valid. A file loaded again through
// the same client (same inode, size and mtime) reuses its mapping, so repeated loads
// do not add mappings; distinct files are mapped up to maxMapped bytes per process.
//
// Elsewhere, past maxMapped, or if mapping fails, the file is read: the blob into a
// strings.Builder (filled without being zeroed first) and the header and tables into a
// reused buffer.
func (c *Client) readCompact(path string) (*conda.Repodata, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if size < int64(headerSize) || size != int64(int(size)) {
		return nil, errCompact
	}
	key := mapKey{path: path, size: size, mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		key.dev, key.ino = uint64(st.Dev), uint64(st.Ino)
	}
	if m := c.maps.mapped(f, key); m != nil {
		nb, _, _ := compactSizes(m) // checked when it was mapped
		blob := ""
		if nb > 0 {
			blob = unsafe.String(&m[headerSize], int(nb))
		}
		return decodeCompactParts(m[:headerSize], blob, m[uint64(headerSize)+nb:])
	}
	return readCompactFile(f, size, &c.scratch)
}

// maxMapped bounds the compact files one process keeps mapped (see readCompact): 4 GiB
// of address space, a few hundred full conda-forge subdirs.
const maxMapped = 4 << 30

// mappedBytes counts the bytes mapped by every client of the process. It is the one
// piece of package-level state here, on purpose: mappings are never unmapped, so their
// budget belongs to the process, not to a client that may be dropped and replaced.
var mappedBytes atomic.Int64

type mapKey struct {
	path     string
	dev, ino uint64
	size     int64
	mtime    int64
}

// compactMaps are the compact files a client has mapped, by identity.
type compactMaps struct {
	mu    sync.Mutex
	byKey map[mapKey][]byte
}

// mapped returns the mapping of f, whose identity is key, mapping it if the client has
// not yet; nil if it cannot be mapped, the process budget is spent, or the file's header
// does not match its size.
func (cm *compactMaps) mapped(f *os.File, key mapKey) []byte {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if m, ok := cm.byKey[key]; ok {
		return m
	}
	if mappedBytes.Add(key.size) > maxMapped {
		mappedBytes.Add(-key.size)
		return nil
	}
	m, err := mapFile(f, int(key.size))
	if err == nil {
		if nb, nt, ok := compactSizes(m); !ok || uint64(len(m)) != uint64(headerSize)+nb+nt {
			unmapFile(m)
			err = errCompact
		}
	}
	if err != nil {
		mappedBytes.Add(-key.size)
		return nil
	}
	if cm.byKey == nil {
		cm.byKey = map[mapKey][]byte{}
	}
	cm.byKey[key] = m
	return m
}

// readCompactFile reads and decodes an open compact file of the given size; scratch
// holds buffers for headers and tables.
func readCompactFile(f *os.File, size int64, scratch *sync.Pool) (*conda.Repodata, error) {
	const chunk = 64 << 10
	bp, _ := scratch.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer scratch.Put(bp)
	if cap(*bp) < headerSize+chunk {
		*bp = make([]byte, headerSize+chunk)
	}
	head := (*bp)[:headerSize]
	if _, err := io.ReadFull(f, head); err != nil {
		return nil, errCompact
	}
	nb, nt, ok := compactSizes(head)
	if !ok || uint64(size) != uint64(headerSize)+nb+nt {
		return nil, errCompact
	}
	if uint64(cap(*bp)) < uint64(headerSize)+nt {
		grown := make([]byte, uint64(headerSize)+nt)
		copy(grown, head)
		*bp = grown
	}
	buf := (*bp)[:cap(*bp)]
	// The blob is read in chunks through the (cache-warm) buffer.
	var blob strings.Builder
	blob.Grow(int(nb))
	for left := int(nb); left > 0; {
		n, err := io.ReadFull(f, buf[headerSize:headerSize+min(left, chunk)])
		if err != nil {
			return nil, errCompact
		}
		blob.Write(buf[headerSize : headerSize+n])
		left -= n
	}
	tables := buf[headerSize : uint64(headerSize)+nt]
	if _, err := io.ReadFull(f, tables); err != nil {
		return nil, errCompact
	}
	return decodeCompactParts(buf[:headerSize], blob.String(), tables)
}
