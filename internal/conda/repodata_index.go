package conda

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
)

// RepodataIndex is a repodata document indexed by package name: for each name, how
// many records it has, whether any tracks a feature, the range of their timestamps,
// and where each record is in the document. Records are decoded only when asked for,
// name by name, so a solve that reaches a few hundred names of a conda-forge subdir
// decodes a few thousand records, not 600,000.
//
// An index built from a document (BuildRepodataIndex) reads records back from the
// io.ReaderAt it is given, which must keep serving the same bytes. Records(i) gives the
// records ParseRepodata gives for that name, in the same order (sorted by file name),
// with the same fields.
type RepodataIndex struct {
	// Info is the document's info, its subdir defaulted as in Repodata.
	Info RepodataInfo

	names []string
	meta  []nameMeta
	spans []recSpan // grouped by name (nameMeta.first), document order within a name
	// features are the distinct tracked features; featIDs the ones of each name
	// (nameMeta.feat0, nfeat), sorted by feature.
	features []string
	featIDs  []uint32

	docInfo RepodataInfo // as the document gives it
	opts    repodataOptions
	loc     *locator
	src     io.ReaderAt

	// An index over decoded records (IndexRepodata) holds them instead of spans.
	recs  []PackageRecord
	order []int32

	// mu guards dec, the decoder Records reuses: its arenas and interned strings serve
	// every name read back.
	mu  sync.Mutex
	dec *decoder
	buf []byte
}

type nameMeta struct {
	first, count   uint32
	minTS, maxTS   int64
	tracksFeatures bool
	feat0, nfeat   uint32
}

type recSpan struct {
	at int64 // document offset of the record's key
	n  uint32
}

// ErrDuplicateRecords is BuildRepodataIndex's answer for a document that names one file
// twice: which record stands is decided across names, so such a document is decoded
// whole (ParseRepodata or ReadRepodata).
var ErrDuplicateRecords = errors.New("repodata names a file twice")

// The values indexing stores for fields it only checks for emptiness.
var (
	indexMark  = "\x00"
	indexList  = []string{indexMark}
	indexEmpty = []string{}
)

// indexBuilder collects the index while the decoder reads the document.
type indexBuilder struct {
	scratch  PackageRecord
	fn       []byte
	listLen  int
	lastName string
	lastID   uint32
	ids      map[string]uint32
	names    []string
	meta     []nameMeta
	recName  []uint32
	recs     []recSpan
	fnHash   []uint64
	seed     maphash.Seed
	noSubdir string // the first record without a subdir
	feats    features
}

// features collects the distinct features each name tracks.
type features struct {
	ids   map[string]uint32
	names []string
	pairs map[[2]uint32]bool // name, feature
}

func (f *features) add(name uint32, tf []string) {
	if f.ids == nil {
		f.ids, f.pairs = map[string]uint32{}, map[[2]uint32]bool{}
	}
	for _, s := range tf {
		id, ok := f.ids[s]
		if !ok {
			id = uint32(len(f.names))
			f.ids[s] = id
			f.names = append(f.names, s)
		}
		f.pairs[[2]uint32{name, id}] = true
	}
}

// fill sets each name's feature list in x.
func (f *features) fill(x *RepodataIndex) {
	x.features = f.names
	byName := make([][]uint32, len(x.meta))
	for p := range f.pairs {
		byName[p[0]] = append(byName[p[0]], p[1])
	}
	for i, ids := range byName {
		slices.SortFunc(ids, func(a, b uint32) int { return strings.Compare(f.names[a], f.names[b]) })
		x.meta[i].feat0, x.meta[i].nfeat = uint32(len(x.featIDs)), uint32(len(ids))
		x.featIDs = append(x.featIDs, ids...)
	}
}

func (b *indexBuilder) add(rec *PackageRecord, fn string, keyAt, end int64) {
	id := b.lastID
	if rec.Name != b.lastName || len(b.names) == 0 {
		var ok bool
		id, ok = b.ids[rec.Name]
		if !ok {
			id = uint32(len(b.names))
			b.ids[rec.Name] = id
			b.names = append(b.names, rec.Name)
			b.meta = append(b.meta, nameMeta{minTS: math.MaxInt64, maxTS: math.MinInt64})
		}
		b.lastName, b.lastID = rec.Name, id
	}
	m := &b.meta[id]
	m.count++
	m.minTS = min(m.minTS, rec.Timestamp)
	m.maxTS = max(m.maxTS, rec.Timestamp)
	if len(rec.TrackFeatures) > 0 {
		m.tracksFeatures = true
		b.feats.add(id, rec.TrackFeatures)
	}
	if rec.Subdir == "" && b.noSubdir == "" {
		b.noSubdir = strings.Clone(fn)
	}
	b.recName = append(b.recName, id)
	b.recs = append(b.recs, recSpan{at: keyAt, n: uint32(end - keyAt)})
	b.fnHash = append(b.fnHash, maphash.String(b.seed, fn))
}

// BuildRepodataIndex reads a repodata document (as ReadRepodata does, with the same
// checks and errors) and indexes its records by name without keeping them. src serves
// the same document for Records; channelURL and opts are as for ReadRepodata.
func BuildRepodataIndex(r io.Reader, src io.ReaderAt, channelURL string, opts ...RepodataOption) (*RepodataIndex, error) {
	o := &repodataOptions{}
	for _, f := range opts {
		f(o)
	}
	d := &decoder{r: r, buf: make([]byte, 0, 1<<20), opts: o, intern: make(map[string]string, 1<<12)}
	n := 1024
	if o.sizeHint > 0 {
		n = int(o.sizeHint/450) + 64
	}
	b := &indexBuilder{ids: make(map[string]uint32, 1<<12), seed: maphash.MakeSeed(),
		recName: make([]uint32, 0, n), recs: make([]recSpan, 0, n), fnHash: make([]uint64, 0, n)}
	d.index = b
	defer d.stopDigest()
	if err := d.parseDoc(); err != nil {
		return nil, err
	}
	d.stopDigest()
	loc, err := d.locator(channelURL)
	if err != nil {
		return nil, err
	}
	if loc.subdir == "" && b.noSubdir != "" {
		return nil, loc.noSubdir(b.noSubdir)
	}
	slices.Sort(b.fnHash)
	for i := 1; i < len(b.fnHash); i++ {
		if b.fnHash[i] == b.fnHash[i-1] {
			// Most likely a repeated key (or a 64-bit hash collision): either way the
			// whole document decides.
			return nil, ErrDuplicateRecords
		}
	}
	x := &RepodataIndex{names: b.names, meta: b.meta, docInfo: d.info, opts: *o, loc: loc, src: src}
	x.setInfo()
	b.feats.fill(x)
	// Group the records by name, keeping document order within a name.
	var at uint32
	for i := range x.meta {
		x.meta[i].first = at
		at += x.meta[i].count
	}
	x.spans = make([]recSpan, len(b.recs))
	next := make([]uint32, len(x.meta))
	for i, id := range b.recName {
		x.spans[x.meta[id].first+next[id]] = b.recs[i]
		next[id]++
	}
	return x, nil
}

func (x *RepodataIndex) setInfo() {
	x.Info = x.docInfo
	if x.Info.Subdir == "" {
		x.Info.Subdir = x.opts.subdir
	}
}

// IndexRepodata indexes records already decoded (a Repodata from the compact cache, or
// a document that BuildRepodataIndex cannot index); Records copies them out by name.
func IndexRepodata(rd *Repodata) *RepodataIndex {
	x := &RepodataIndex{Info: rd.Info, recs: rd.Packages}
	ids := map[string]uint32{}
	var feats features
	recName := make([]uint32, len(rd.Packages))
	for i := range rd.Packages {
		r := &rd.Packages[i]
		id, ok := ids[r.Name]
		if !ok {
			id = uint32(len(x.names))
			ids[r.Name] = id
			x.names = append(x.names, r.Name)
			x.meta = append(x.meta, nameMeta{minTS: math.MaxInt64, maxTS: math.MinInt64})
		}
		recName[i] = id
		m := &x.meta[id]
		m.count++
		m.minTS = min(m.minTS, r.Timestamp)
		m.maxTS = max(m.maxTS, r.Timestamp)
		if len(r.TrackFeatures) > 0 {
			m.tracksFeatures = true
			feats.add(id, r.TrackFeatures)
		}
	}
	feats.fill(x)
	var at uint32
	for i := range x.meta {
		x.meta[i].first = at
		at += x.meta[i].count
	}
	x.order = make([]int32, len(rd.Packages))
	next := make([]uint32, len(x.meta))
	for i, id := range recName {
		x.order[x.meta[id].first+next[id]] = int32(i)
		next[id]++
	}
	return x
}

// Len is the number of distinct names.
func (x *RepodataIndex) Len() int { return len(x.names) }

// Name is the i-th name (names are in order of first appearance in the document).
func (x *RepodataIndex) Name(i int) string { return x.names[i] }

// Count is the number of records of the i-th name.
func (x *RepodataIndex) Count(i int) int { return int(x.meta[i].count) }

// TracksFeatures reports whether a record of the i-th name has track_features.
func (x *RepodataIndex) TracksFeatures(i int) bool { return x.meta[i].tracksFeatures }

// Features lists the distinct features the records of the i-th name track, sorted.
func (x *RepodataIndex) Features(i int) []string {
	m := x.meta[i]
	out := make([]string, m.nfeat)
	for k, id := range x.featIDs[m.feat0 : m.feat0+m.nfeat] {
		out[k] = x.features[id]
	}
	return out
}

// Timestamps gives the smallest and largest timestamp (milliseconds, 0 when absent)
// among the records of the i-th name.
func (x *RepodataIndex) Timestamps(i int) (lo, hi int64) { return x.meta[i].minTS, x.meta[i].maxTS }

// maxCoalesce bounds one read of neighbouring records, and maxGap the unused bytes
// between two records read together.
const (
	maxCoalesce = 1 << 20
	maxGap      = 16 << 10
)

// Records decodes the records of the i-th name, sorted by file name, as ParseRepodata
// gives them. An error means src no longer serves the indexed document.
func (x *RepodataIndex) Records(i int) ([]PackageRecord, error) {
	m := x.meta[i]
	out := make([]PackageRecord, 0, m.count)
	if x.recs != nil {
		for _, k := range x.order[m.first : m.first+m.count] {
			out = append(out, x.recs[k])
		}
		return out, nil
	}
	name := x.names[i]
	spans := x.spans[m.first : m.first+m.count]
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.dec == nil {
		x.dec = &decoder{opts: &x.opts, eof: true, intern: make(map[string]string, 1024)}
	}
	d, buf := x.dec, x.buf
	defer func() { x.buf = buf[:0] }()
	for k := 0; k < len(spans); {
		lo, hi := spans[k].at, spans[k].at+int64(spans[k].n)
		j := k + 1
		for j < len(spans) && spans[j].at >= hi && spans[j].at-hi <= maxGap && spans[j].at+int64(spans[j].n)-lo <= maxCoalesce {
			hi = spans[j].at + int64(spans[j].n)
			j++
		}
		if int64(cap(buf)) < hi-lo {
			buf = make([]byte, hi-lo)
		}
		buf = buf[:hi-lo]
		if n, err := x.src.ReadAt(buf, lo); n < len(buf) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, x.changed(name, lo, err)
		}
		for _, s := range spans[k:j] {
			rec, err := d.indexedRecord(buf[s.at-lo:s.at-lo+int64(s.n)], s.at)
			if err == nil && rec.Name != name {
				err = fmt.Errorf("the record is %q", rec.Name)
			}
			if err == nil {
				err = x.loc.locate(&rec, &d.strs)
			}
			if err != nil {
				return nil, x.changed(name, s.at, err)
			}
			out = append(out, rec)
		}
		k = j
	}
	sortRecords(out)
	return out, nil
}

func (x *RepodataIndex) changed(name string, at int64, err error) error {
	return fmt.Errorf("%s: reading the records of %s again at byte %d: %w; the repodata changed after it was indexed, run again", x.opts.sourceName(), name, at, err)
}

// indexedRecord decodes `"fn": {record}` from b, which starts at document offset at.
func (d *decoder) indexedRecord(b []byte, at int64) (PackageRecord, error) {
	d.buf, d.pos, d.base, d.record = b, 0, at, ""
	k, i, err := d.rawString(0)
	if err != nil {
		return PackageRecord{}, err
	}
	rec := PackageRecord{Fn: d.strs.alloc(k)}
	d.record = rec.Fn
	if i, err = d.expect(i, ':'); err != nil {
		return PackageRecord{}, err
	}
	var end int
	if end, err = d.parseRecord(i, &rec); err != nil {
		return PackageRecord{}, err
	}
	if end != len(b) || rec.Name == "" || rec.Version == "" || rec.Build == "" {
		return PackageRecord{}, d.fail(end, "not the record indexed")
	}
	return rec, nil
}

// The binary form of an index (MarshalBinary), little-endian:
//
//	magic "RBIX\x01"
//	strings (u32 length, bytes): info subdir, info base_url, WithSubdir's subdir
//	u32 nnames, u32 nrecords, u32 size of the names blob, the names blob
//	u32 nfeatures, then each feature as a string
//	nnames x (u32 name length, u32 count, i64 min timestamp, i64 max timestamp, u8 tracks,
//	          u32 number of features)
//	nrecords x (i64 offset, u32 length), grouped by name in name order
//	each name's feature numbers (u32), in name order
const indexMagic = "RBIX\x02"

const (
	indexNameSize = 4 + 4 + 8 + 8 + 1 + 4
	indexSpanSize = 8 + 4
)

// MarshalBinary encodes an index built from a document, to be read back with
// UnmarshalRepodataIndex over the same document.
func (x *RepodataIndex) MarshalBinary() ([]byte, error) {
	if x.recs != nil {
		return nil, errors.New("an index of decoded records has no binary form")
	}
	le := binary.LittleEndian
	blob := 0
	for _, n := range x.names {
		blob += len(n)
	}
	out := make([]byte, 0, len(indexMagic)+64+blob+len(x.names)*indexNameSize+len(x.spans)*indexSpanSize)
	out = append(out, indexMagic...)
	for _, s := range []string{x.docInfo.Subdir, x.docInfo.BaseURL, x.opts.subdir} {
		out = le.AppendUint32(out, uint32(len(s)))
		out = append(out, s...)
	}
	out = le.AppendUint32(out, uint32(len(x.names)))
	out = le.AppendUint32(out, uint32(len(x.spans)))
	out = le.AppendUint32(out, uint32(blob))
	for _, n := range x.names {
		out = append(out, n...)
	}
	out = le.AppendUint32(out, uint32(len(x.features)))
	for _, f := range x.features {
		out = le.AppendUint32(out, uint32(len(f)))
		out = append(out, f...)
	}
	for i, n := range x.names {
		m := x.meta[i]
		out = le.AppendUint32(out, uint32(len(n)))
		out = le.AppendUint32(out, m.count)
		out = le.AppendUint64(out, uint64(m.minTS))
		out = le.AppendUint64(out, uint64(m.maxTS))
		t := byte(0)
		if m.tracksFeatures {
			t = 1
		}
		out = append(out, t)
		out = le.AppendUint32(out, m.nfeat)
	}
	for _, s := range x.spans {
		out = le.AppendUint64(out, uint64(s.at))
		out = le.AppendUint32(out, s.n)
	}
	for _, id := range x.featIDs {
		out = le.AppendUint32(out, id)
	}
	return out, nil
}

var errIndexFormat = errors.New("malformed repodata index")

// UnmarshalRepodataIndex reads MarshalBinary's output; src serves the indexed
// document, channelURL and opts are as when it was built (WithSubdir is stored). It
// never panics on bad input.
func UnmarshalRepodataIndex(data []byte, src io.ReaderAt, channelURL string, opts ...RepodataOption) (*RepodataIndex, error) {
	o := &repodataOptions{}
	for _, f := range opts {
		f(o)
	}
	le := binary.LittleEndian
	if !strings.HasPrefix(string(data), indexMagic) {
		return nil, errIndexFormat
	}
	rest := data[len(indexMagic):]
	u32 := func() (uint32, bool) {
		if len(rest) < 4 {
			return 0, false
		}
		v := le.Uint32(rest)
		rest = rest[4:]
		return v, true
	}
	str := func() (string, bool) {
		n, ok := u32()
		if !ok || uint64(n) > uint64(len(rest)) {
			return "", false
		}
		s := string(rest[:n])
		rest = rest[n:]
		return s, true
	}
	x := &RepodataIndex{opts: *o, src: src}
	var ok1, ok2, ok3, ok4, ok5, ok6 bool
	x.docInfo.Subdir, ok1 = str()
	x.docInfo.BaseURL, ok2 = str()
	x.opts.subdir, ok3 = str()
	nn, ok4 := u32()
	nr, ok5 := u32()
	blob, ok6 := str()
	nf, ok7 := u32()
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !ok7 || uint64(nf) > uint64(len(rest))/4 {
		return nil, errIndexFormat
	}
	x.features = make([]string, nf)
	for i := range x.features {
		var ok bool
		if x.features[i], ok = str(); !ok {
			return nil, errIndexFormat
		}
	}
	if uint64(len(rest)) < uint64(nn)*indexNameSize+uint64(nr)*indexSpanSize {
		return nil, errIndexFormat
	}
	x.names = make([]string, nn)
	x.meta = make([]nameMeta, nn)
	var first uint32
	var feats uint64
	for i := range x.names {
		b := rest[:indexNameSize]
		rest = rest[indexNameSize:]
		n, count := le.Uint32(b), le.Uint32(b[4:])
		if uint64(n) > uint64(len(blob)) || uint64(count) > uint64(nr-first) || b[24] > 1 {
			return nil, errIndexFormat
		}
		x.names[i], blob = blob[:n], blob[n:]
		nfeat := le.Uint32(b[25:])
		x.meta[i] = nameMeta{first: first, count: count, minTS: int64(le.Uint64(b[8:])), maxTS: int64(le.Uint64(b[16:])), tracksFeatures: b[24] == 1,
			feat0: uint32(feats), nfeat: nfeat}
		first += count
		feats += uint64(nfeat)
		if feats > math.MaxUint32 {
			return nil, errIndexFormat
		}
	}
	if first != nr || len(blob) != 0 || uint64(len(rest)) != uint64(nr)*indexSpanSize+4*feats {
		return nil, errIndexFormat
	}
	x.spans = make([]recSpan, nr)
	for i := range x.spans {
		b := rest[:indexSpanSize]
		rest = rest[indexSpanSize:]
		x.spans[i] = recSpan{at: int64(le.Uint64(b)), n: le.Uint32(b[8:])}
		if x.spans[i].at < 0 {
			return nil, errIndexFormat
		}
	}
	x.featIDs = make([]uint32, feats)
	for i := range x.featIDs {
		x.featIDs[i] = le.Uint32(rest)
		rest = rest[4:]
		if x.featIDs[i] >= nf {
			return nil, errIndexFormat
		}
	}
	loc, err := newLocator(channelURL, x.docInfo, &x.opts)
	if err != nil {
		return nil, err
	}
	x.loc = loc
	x.setInfo()
	return x, nil
}
