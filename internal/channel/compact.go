package channel

import (
	"encoding/binary"
	"errors"
	"unsafe"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// The compact form of parsed repodata: a string table (every distinct string once)
// followed by records as table indices and varints. Decoding it is a few slices and
// no JSON, which is what makes a warm lock cheap. Layout:
//
//	magic "RBRD\x01"
//	uvarint nstrings, (nstrings+1) x uint32 little-endian offsets, the strings' bytes
//	uvarint total number of list elements (one backing array holds them all)
//	info: subdir, base_url (string refs)
//	uvarint nrecords, records (fields in PackageRecord order)
//	removed: list of string refs
//
// A list is uvarint(len+1), or 0 for nil, so nil and empty survive the round trip.
const compactMagic = "RBRD\x02"

var errCompact = errors.New("malformed compact repodata")

type compactEncoder struct {
	idx   map[string]uint64
	strs  []string
	body  []byte
	elems uint64
}

func (e *compactEncoder) str(s string) {
	i, ok := e.idx[s]
	if !ok {
		i = uint64(len(e.strs))
		e.idx[s] = i
		e.strs = append(e.strs, s)
	}
	e.body = binary.AppendUvarint(e.body, i)
}

func (e *compactEncoder) list(l []string) {
	if l == nil {
		e.body = binary.AppendUvarint(e.body, 0)
		return
	}
	e.body = binary.AppendUvarint(e.body, uint64(len(l))+1)
	e.elems += uint64(len(l))
	for _, s := range l {
		e.str(s)
	}
}

func (e *compactEncoder) int(n int64) { e.body = binary.AppendVarint(e.body, n) }

// encodeCompact serialises rd.
func encodeCompact(rd *conda.Repodata) []byte {
	e := &compactEncoder{idx: map[string]uint64{}}
	e.str(rd.Info.Subdir)
	e.str(rd.Info.BaseURL)
	e.body = binary.AppendUvarint(e.body, uint64(len(rd.Packages)))
	for i := range rd.Packages {
		r := &rd.Packages[i]
		e.str(r.Name)
		e.str(r.Version)
		e.str(r.Build)
		e.int(r.BuildNumber)
		e.list(r.Depends)
		e.list(r.Constrains)
		e.list(r.TrackFeatures)
		e.str(r.Features)
		e.str(r.Noarch)
		e.str(r.Subdir)
		e.str(r.License)
		e.str(r.LicenseFamily)
		e.str(r.MD5)
		e.str(r.SHA256)
		e.int(r.Size)
		e.int(r.Timestamp)
		e.str(r.Fn)
		e.str(r.URL)
		e.str(r.Channel)
	}
	e.list(rd.Removed)
	n := 0
	for _, s := range e.strs {
		n += len(s)
	}
	out := make([]byte, 0, len(compactMagic)+len(e.strs)*4+n+len(e.body)+16)
	out = append(out, compactMagic...)
	out = binary.AppendUvarint(out, uint64(len(e.strs)))
	off := uint32(0)
	out = binary.LittleEndian.AppendUint32(out, 0)
	for _, s := range e.strs {
		off += uint32(len(s))
		out = binary.LittleEndian.AppendUint32(out, off)
	}
	for _, s := range e.strs {
		out = append(out, s...)
	}
	out = binary.AppendUvarint(out, e.elems)
	return append(out, e.body...)
}

// compactDecoder reads by index so the hot loop writes no slice headers (and so no GC
// write barriers) for its own position.
type compactDecoder struct {
	b     []byte
	pos   int
	offs  []byte // (n+1) little-endian uint32 offsets into blob, checked monotonic
	blob  []byte
	nstr  uint64
	elems []string // shared backing array of every list
	err   bool
}

func (d *compactDecoder) rest() int { return len(d.b) - d.pos }

func (d *compactDecoder) uvarint() uint64 {
	// One- and two-byte values (string indices below 16384) are most of the input.
	if d.pos+1 < len(d.b) {
		b0 := d.b[d.pos]
		if b0 < 0x80 {
			d.pos++
			return uint64(b0)
		}
		if b1 := d.b[d.pos+1]; b1 < 0x80 {
			d.pos += 2
			return uint64(b0&0x7f) | uint64(b1)<<7
		}
	} else if d.pos < len(d.b) && d.b[d.pos] < 0x80 {
		v := uint64(d.b[d.pos])
		d.pos++
		return v
	}
	if d.pos >= len(d.b) {
		d.err = true
		return 0
	}
	v, n := binary.Uvarint(d.b[d.pos:])
	if n <= 0 {
		d.err = true
		d.pos = len(d.b)
		return 0
	}
	d.pos += n
	return v
}

func (d *compactDecoder) int() int64 {
	u := d.uvarint()
	// Zig-zag, as binary.AppendVarint writes it.
	return int64(u>>1) ^ -int64(u&1)
}

// str reads a string reference. The string aliases the input buffer (see
// decodeCompact), so no bytes are copied.
func (d *compactDecoder) str() string {
	i := d.uvarint()
	if i >= d.nstr {
		d.err = true
		return ""
	}
	o0 := binary.LittleEndian.Uint32(d.offs[i*4:])
	o1 := binary.LittleEndian.Uint32(d.offs[i*4+4:])
	if o0 == o1 {
		return ""
	}
	return unsafe.String(&d.blob[o0], int(o1-o0))
}

func (d *compactDecoder) list() []string {
	n := d.uvarint()
	if n == 0 {
		return nil
	}
	n--
	if n > uint64(len(d.elems)) {
		d.err = true
		return nil
	}
	// Full slice expressions stop an append on one record's list from writing into the
	// next record's.
	l := d.elems[:n:n]
	d.elems = d.elems[n:]
	for i := range l {
		l[i] = d.str()
	}
	return l
}

// decodeCompact parses encodeCompact output. The returned strings alias data, which the
// caller must not modify afterwards. It never panics on bad input; anything malformed is
// errCompact and the caller re-parses the JSON.
func decodeCompact(data []byte) (*conda.Repodata, error) {
	if len(data) < len(compactMagic) || string(data[:len(compactMagic)]) != compactMagic {
		return nil, errCompact
	}
	d := &compactDecoder{b: data, pos: len(compactMagic)}
	ns := d.uvarint()
	if d.err || ns >= uint64(d.rest())/4 {
		return nil, errCompact
	}
	d.nstr = ns
	d.offs = d.b[d.pos : d.pos+int(ns+1)*4]
	d.pos += int(ns+1) * 4
	// Offsets must start at 0 and never decrease; then every str is in bounds.
	prev := uint32(0)
	if binary.LittleEndian.Uint32(d.offs) != 0 {
		return nil, errCompact
	}
	for i := 4; i < len(d.offs); i += 4 {
		o := binary.LittleEndian.Uint32(d.offs[i:])
		if o < prev {
			return nil, errCompact
		}
		prev = o
	}
	if uint64(prev) > uint64(d.rest()) {
		return nil, errCompact
	}
	d.blob = d.b[d.pos : d.pos+int(prev)]
	d.pos += int(prev)
	ne := d.uvarint()
	if d.err || ne > uint64(d.rest()) { // each element takes at least one byte
		return nil, errCompact
	}
	d.elems = make([]string, ne)
	rd := &conda.Repodata{}
	rd.Info.Subdir = d.str()
	rd.Info.BaseURL = d.str()
	nr := d.uvarint()
	if d.err || nr > uint64(d.rest()) {
		return nil, errCompact
	}
	rd.Packages = make([]conda.PackageRecord, nr)
	for i := range rd.Packages {
		// Filling a stack value and storing it once lets the runtime apply the GC write
		// barriers in bulk instead of per field.
		var r conda.PackageRecord
		r.Name = d.str()
		r.Version = d.str()
		r.Build = d.str()
		r.BuildNumber = d.int()
		r.Depends = d.list()
		r.Constrains = d.list()
		r.TrackFeatures = d.list()
		r.Features = d.str()
		r.Noarch = d.str()
		r.Subdir = d.str()
		r.License = d.str()
		r.LicenseFamily = d.str()
		r.MD5 = d.str()
		r.SHA256 = d.str()
		r.Size = d.int()
		r.Timestamp = d.int()
		r.Fn = d.str()
		r.URL = d.str()
		r.Channel = d.str()
		if d.err {
			return nil, errCompact
		}
		rd.Packages[i] = r
	}
	rd.Removed = d.list()
	if d.err || d.rest() != 0 {
		return nil, errCompact
	}
	return rd, nil
}
