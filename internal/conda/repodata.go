package conda

import (
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"slices"
	"strings"
	"unsafe"
)

// RepodataInfo is the "info" object of a repodata.json.
type RepodataInfo struct {
	// Subdir is the platform directory the document describes.
	Subdir string
	// BaseURL is repodata v2's base_url (CEP 15): where the packages live, possibly
	// relative to the repodata.json URL. Empty when absent.
	BaseURL string
}

// Repodata is a decoded repodata.json (or a flat conda index: an object from file name
// to record).
type Repodata struct {
	Info RepodataInfo
	// Packages holds the records of "packages" and "packages.conda", sorted by Fn.
	Packages []PackageRecord
	// Removed lists the file names under "removed", in document order.
	Removed []string
}

// RepodataOption adjusts ParseRepodata and ReadRepodata.
type RepodataOption func(*repodataOptions)

type repodataOptions struct {
	source   string
	subdir   string
	sizeHint int64
	digest   io.Writer
}

// WithSource names the document (a path or URL) in error messages.
func WithSource(name string) RepodataOption { return func(o *repodataOptions) { o.source = name } }

// WithSubdir gives the subdir for records and documents that do not state one (flat
// conda indexes).
func WithSubdir(subdir string) RepodataOption {
	return func(o *repodataOptions) { o.subdir = subdir }
}

// WithDigest makes ReadRepodata and BuildRepodataIndex write every byte of the
// document to w (a hash.Hash, typically) as they read it, on another goroutine: the
// document is read once, and hashing it costs the decoder no time. w has seen the
// whole document when they return without error.
func WithDigest(w io.Writer) RepodataOption { return func(o *repodataOptions) { o.digest = w } }

// WithSizeHint gives ReadRepodata the document size so it can size its record table
// once.
func WithSizeHint(n int64) RepodataOption { return func(o *repodataOptions) { o.sizeHint = n } }

// RepodataError reports a repodata document that cannot be decoded.
type RepodataError struct {
	Source string // the document, as given by WithSource ("" if not given)
	Record string // the record key (file name) or top-level key involved, if any
	Offset int64  // byte offset of the problem
	Reason string
}

func (e *RepodataError) Error() string {
	src := e.Source
	if src == "" {
		src = "repodata"
	}
	if e.Record != "" {
		return fmt.Sprintf("%s: record %q: %s (byte %d); the channel's repodata is malformed, refresh or report it", src, e.Record, e.Reason, e.Offset)
	}
	return fmt.Sprintf("%s: %s (byte %d); the channel's repodata is malformed, refresh or report it", src, e.Reason, e.Offset)
}

// msTimestampThreshold is the largest timestamp read as seconds (the end of year 9999);
// larger values are already milliseconds, the rule conda and rattler apply.
const msTimestampThreshold = 253402300799

// ParseRepodata decodes a repodata.json document. channelURL is the channel's base URL
// (without subdir); it becomes each record's Channel, and with the subdir and file name
// its URL unless the document gives a base_url. Credentials and anaconda.org tokens in
// channelURL are not copied into records. Timestamps are normalised to milliseconds;
// "noarch": true reads as "generic"; "track_features" may be a string or a list.
func ParseRepodata(data []byte, channelURL string, opts ...RepodataOption) (*Repodata, error) {
	o := &repodataOptions{sizeHint: int64(len(data))}
	for _, f := range opts {
		f(o)
	}
	d := newDecoder(nil, data, o)
	return d.run(channelURL)
}

// ReadRepodata is ParseRepodata for a stream: it holds only a window of the document in
// memory, so a large repodata.json costs little more than the records decoded from it.
func ReadRepodata(r io.Reader, channelURL string, opts ...RepodataOption) (*Repodata, error) {
	o := &repodataOptions{}
	for _, f := range opts {
		f(o)
	}
	if o.sizeHint == 0 {
		if s, ok := r.(interface{ Stat() (fs.FileInfo, error) }); ok {
			if fi, err := s.Stat(); err == nil {
				o.sizeHint = fi.Size()
			}
		}
	}
	d := newDecoder(r, make([]byte, 0, 1<<20), o)
	defer d.stopDigest()
	return d.run(channelURL)
}

func (d *decoder) run(channelURL string) (*Repodata, error) {
	if err := d.parseDoc(); err != nil {
		return nil, err
	}
	return d.finish(channelURL)
}

// parseDoc reads the whole document, handing each record to parseRecordUnit.
func (d *decoder) parseDoc() error {
	if err := d.unit(func(i int) (int, error) { return d.expect(i, '{') }); err != nil {
		return err
	}
	first := true
	for {
		k, keyAt, done, err := d.nextKey(first, "")
		if err != nil {
			return err
		}
		if done {
			break
		}
		key := string(k)
		first = false
		switch {
		case key == "info":
			if err := d.unit(d.parseInfo); err != nil {
				return err
			}
		case key == "packages" || key == "packages.conda":
			if err := d.parsePackages(key); err != nil {
				return err
			}
		case key == "removed":
			if err := d.unit(d.parseRemoved); err != nil {
				return err
			}
		case hasPackageExtension(key):
			// A flat conda index maps file names to records at the top level.
			var isObj bool
			if err := d.unit(func(i int) (int, error) {
				i, err := d.ws(i)
				isObj = err == nil && d.buf[i] == '{'
				return i, err
			}); err != nil {
				return err
			}
			if !isObj {
				if err := d.skipStream(); err != nil {
					return err
				}
				continue
			}
			if err := d.parseRecordUnit(key, keyAt); err != nil {
				return err
			}
		default:
			if err := d.skipStream(); err != nil {
				return err
			}
		}
	}
	for {
		b := d.buf
		i := d.pos
		for i < len(b) && isWS(b[i]) {
			i++
		}
		d.pos = i
		if i < len(b) {
			return d.fail(i, "data after the document")
		}
		if !d.fill(d.pos) {
			break
		}
	}
	if d.readErr != nil {
		return fmt.Errorf("reading %s: %w", d.opts.sourceName(), d.readErr)
	}
	return nil
}

// nextKey reads the next `"key":` of an object whose '{' has been read (first: no ','
// before it), or its closing '}' (done). key holds the unescaped key until the next
// read; keyAt is its document offset. section names the object in errors ("" for the
// document itself).
func (d *decoder) nextKey(first bool, section string) (key []byte, keyAt int64, done bool, err error) {
	err = d.unit(func(i int) (int, error) {
		i, err := d.ws(i)
		if err != nil {
			return i, err
		}
		if d.buf[i] == '}' {
			done = true
			return i + 1, nil
		}
		if !first {
			if c := d.buf[i]; c != ',' {
				if section == "" {
					return i, d.fail(i, fmt.Sprintf("expected ',' or '}', found %q", c))
				}
				return i, d.fail(i, fmt.Sprintf("expected ',' or '}' in %q, found %q", section, c))
			}
			i++
		}
		keyAt = d.base + int64(i)
		k, i, err := d.rawString(i)
		if err != nil {
			return i, err
		}
		key = k
		return d.expect(i, ':')
	})
	return key, keyAt, done, err
}

func (d *decoder) parseInfo(i int) (int, error) {
	i, err := d.ws(i)
	if err != nil {
		return i, err
	}
	if d.buf[i] == 'n' {
		_, j, err := d.literal(i)
		return j, err
	}
	var info RepodataInfo
	end, err := d.object(i, func(key []byte, j int) (int, error) {
		switch string(key) {
		case "subdir":
			return d.optString(j, &info.Subdir)
		case "base_url":
			return d.optString(j, &info.BaseURL)
		}
		return d.skip(j)
	})
	if err == nil {
		d.info, d.hasInfo = info, true
	}
	return end, err
}

func (d *decoder) parseRemoved(i int) (int, error) {
	i, err := d.ws(i)
	if err != nil {
		return i, err
	}
	if d.buf[i] == 'n' {
		_, j, err := d.literal(i)
		return j, err
	}
	out := []string{}
	end, err := d.array(i, func(j int) (int, error) {
		s, k, err := d.rawString(j)
		if err != nil {
			return k, err
		}
		out = append(out, string(s))
		return k, nil
	})
	if err == nil {
		if d.removed == nil {
			d.removed = out
		} else {
			d.removed = append(d.removed, out...)
		}
	}
	return end, err
}

func (d *decoder) parsePackages(section string) error {
	d.record = ""
	var isNull bool
	if err := d.unit(func(i int) (int, error) {
		i, err := d.ws(i)
		if err != nil {
			return i, err
		}
		if d.buf[i] == 'n' {
			isNull = true
			_, j, err := d.literal(i)
			return j, err
		}
		if d.buf[i] != '{' {
			return i, d.fail(i, fmt.Sprintf("%q must be an object", section))
		}
		return i + 1, nil
	}); err != nil || isNull {
		return err
	}
	first := true
	for {
		k, keyAt, done, err := d.nextKey(first, section)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		var fn string
		if d.index != nil {
			// Indexing keeps no file names: the key is read again with its record.
			d.index.fn = append(d.index.fn[:0], k...)
			fn = unsafe.String(unsafe.SliceData(d.index.fn), len(d.index.fn))
		} else {
			fn = d.strs.alloc(k)
		}
		first = false
		if err := d.parseRecordUnit(fn, keyAt); err != nil {
			return err
		}
	}
}

// parseRecordUnit decodes the record whose key fn starts at document offset keyAt,
// appending it to d.recs, or to d.index when indexing.
func (d *decoder) parseRecordUnit(fn string, keyAt int64) error {
	d.record = fn
	var rec *PackageRecord
	if d.index != nil {
		rec = &d.index.scratch
	} else {
		d.recs = append(d.recs, PackageRecord{})
		rec = &d.recs[len(d.recs)-1]
	}
	for {
		*rec = PackageRecord{Fn: fn}
		end, err := d.parseRecord(d.pos, rec)
		if err == nil {
			d.pos = end
			break
		}
		if err != errNeedMore {
			return err
		}
		if d.eof {
			return d.fail(len(d.buf), "unexpected end of document")
		}
		if !d.fill(d.pos) && d.readErr != nil {
			return fmt.Errorf("reading %s: %w", d.opts.sourceName(), d.readErr)
		}
	}
	if rec.Name == "" || rec.Version == "" || rec.Build == "" {
		missing := "name"
		if rec.Name != "" {
			missing = "version"
			if rec.Version != "" {
				missing = "build"
			}
		}
		return &RepodataError{Source: d.opts.source, Record: strings.Clone(fn), Offset: d.base + int64(d.pos), Reason: "missing " + missing}
	}
	if d.index != nil {
		d.index.add(rec, fn, keyAt, d.base+int64(d.pos))
	}
	d.record = ""
	return nil
}

type recordKey uint8

const (
	kOther recordKey = iota
	kName
	kVersion
	kBuild
	kBuildString
	kBuildNumber
	kDepends
	kConstrains
	kTrackFeatures
	kFeatures
	kNoarch
	kSubdir
	kLicense
	kLicenseFamily
	kMD5
	kSHA256
	kSize
	kTimestamp
)

func recordKeyOf(k []byte) recordKey {
	switch string(k) {
	case "name":
		return kName
	case "version":
		return kVersion
	case "build":
		return kBuild
	case "build_string":
		return kBuildString
	case "build_number":
		return kBuildNumber
	case "depends":
		return kDepends
	case "constrains":
		return kConstrains
	case "track_features":
		return kTrackFeatures
	case "features":
		return kFeatures
	case "noarch":
		return kNoarch
	case "subdir":
		return kSubdir
	case "license":
		return kLicense
	case "license_family":
		return kLicenseFamily
	case "md5":
		return kMD5
	case "sha256":
		return kSHA256
	case "size":
		return kSize
	case "timestamp":
		return kTimestamp
	}
	return kOther
}

// parseRecord decodes one record object at i. It is the hot loop of the decoder, so it
// walks the object itself instead of going through callbacks.
func (d *decoder) parseRecord(i int, rec *PackageRecord) (int, error) {
	var buildString string
	i, err := d.expect(i, '{')
	if err != nil {
		return i, err
	}
	if i, err = d.ws(i); err != nil {
		return i, err
	}
	if d.buf[i] == '}' {
		return i + 1, nil
	}
	for {
		key, j, err := d.rawString(i)
		if err != nil {
			return j, err
		}
		kid := recordKeyOf(key)
		if j, err = d.expect(j, ':'); err != nil {
			return j, err
		}
		if j, err = d.ws(j); err != nil {
			return j, err
		}
		if d.buf[j] == 'n' { // null leaves the field empty
			_, j, err = d.literal(j)
		} else {
			j, err = d.recordValue(kid, j, rec, &buildString)
		}
		if err != nil {
			return j, err
		}
		if j, err = d.ws(j); err != nil {
			return j, err
		}
		switch d.buf[j] {
		case ',':
			i = j + 1
		case '}':
			if rec.Build == "" {
				rec.Build = buildString
			}
			return j + 1, nil
		default:
			return j, d.fail(j, fmt.Sprintf("expected ',' or '}', found %q", d.buf[j]))
		}
	}
}

func (d *decoder) recordValue(kid recordKey, j int, rec *PackageRecord, buildString *string) (int, error) {
	b := d.buf
	switch kid {
	case kName:
		return d.nameField(j, &rec.Name)
	case kVersion:
		return d.stringField(j, &rec.Version, true)
	case kBuild:
		return d.stringField(j, &rec.Build, false)
	case kBuildString:
		return d.stringField(j, buildString, false)
	case kBuildNumber:
		return d.intField(j, &rec.BuildNumber, "build_number")
	case kDepends:
		return d.listField(j, &rec.Depends, "depends")
	case kConstrains:
		return d.listField(j, &rec.Constrains, "constrains")
	case kTrackFeatures:
		if d.index != nil {
			// Indexing keeps the features a name tracks: decode them as usual.
			x := d.index
			d.index = nil
			k, err := d.recordValue(kid, j, rec, buildString)
			d.index = x
			return k, err
		}
		if b[j] == '"' {
			var s string
			k, err := d.stringField(j, &s, true)
			if err == nil {
				rec.TrackFeatures = d.splitTrackFeatures(s)
			}
			return k, err
		}
		return d.listField(j, &rec.TrackFeatures, "track_features")
	case kFeatures:
		return d.stringField(j, &rec.Features, true)
	case kNoarch:
		switch b[j] {
		case 't', 'f':
			c, k, err := d.literal(j)
			if c == 't' {
				rec.Noarch = "generic"
			}
			return k, err
		}
		return d.stringField(j, &rec.Noarch, true)
	case kSubdir:
		return d.stringField(j, &rec.Subdir, true)
	case kLicense:
		return d.stringField(j, &rec.License, true)
	case kLicenseFamily:
		return d.stringField(j, &rec.LicenseFamily, true)
	case kMD5:
		return d.stringField(j, &rec.MD5, false)
	case kSHA256:
		return d.stringField(j, &rec.SHA256, false)
	case kSize:
		return d.intField(j, &rec.Size, "size")
	case kTimestamp:
		k, err := d.intField(j, &rec.Timestamp, "timestamp")
		if err == nil && rec.Timestamp <= msTimestampThreshold {
			rec.Timestamp *= 1000
		}
		return k, err
	}
	return d.skip(j)
}

// finish fills the location fields, sorts the records and checks what only the whole
// document can tell.
func (d *decoder) finish(channelURL string) (*Repodata, error) {
	loc, err := d.locator(channelURL)
	if err != nil {
		return nil, err
	}
	for i := range d.recs {
		if err := loc.locate(&d.recs[i], &d.strs); err != nil {
			return nil, err
		}
	}
	sortRecords(d.recs)
	d.recs = dedupeRecords(d.recs)
	info := d.info
	if info.Subdir == "" {
		info.Subdir = d.opts.subdir
	}
	return &Repodata{Info: info, Packages: d.recs, Removed: d.removed}, nil
}

// locator fills the fields a record takes from where its document is: the subdir when
// the record has none, the channel, the URL (and the file name sharing its bytes).
type locator struct {
	channel string
	subdir  string // the document's (or WithSubdir's)
	prefix  string // of URLs, "" when there is no channel URL
	baseURL bool   // the document gives a base_url
	source  string
}

func (d *decoder) locator(channelURL string) (*locator, error) {
	return newLocator(channelURL, d.info, d.opts)
}

func newLocator(channelURL string, info RepodataInfo, o *repodataOptions) (*locator, error) {
	channel := cleanChannelURL(channelURL)
	subdir := info.Subdir
	if subdir == "" {
		subdir = o.subdir
	}
	prefix := ""
	switch {
	case info.BaseURL != "":
		base := info.BaseURL
		if !hasScheme(base) && channel != "" {
			ref, err1 := url.Parse(base)
			from, err2 := url.Parse(channel + "/" + subdir + "/")
			if err1 != nil || err2 != nil {
				return nil, &RepodataError{Source: o.source, Record: "info", Reason: fmt.Sprintf("invalid base_url %q", base)}
			}
			base = from.ResolveReference(ref).String()
		}
		prefix = strings.TrimRight(base, "/") + "/"
	case channel != "":
		prefix = channel + "/" + subdir + "/"
	}
	return &locator{channel: channel, subdir: subdir, prefix: prefix, baseURL: info.BaseURL != "", source: o.source}, nil
}

func (l *locator) locate(r *PackageRecord, strs *stringArena) error {
	if r.Subdir == "" {
		if l.subdir == "" {
			return l.noSubdir(r.Fn)
		}
		r.Subdir = l.subdir
	}
	r.Channel = l.channel
	if l.prefix != "" {
		p := l.prefix
		if !l.baseURL && r.Subdir != l.subdir {
			p = l.channel + "/" + r.Subdir + "/"
		}
		u := strs.concat(p, r.Fn)
		r.URL = u
		// The file name shares the URL's bytes.
		r.Fn = u[len(p):]
	}
	return nil
}

func (l *locator) noSubdir(fn string) error {
	return &RepodataError{Source: l.source, Record: fn, Reason: "no subdir in the record or the document; pass WithSubdir"}
}

// cleanChannelURL drops a trailing slash, user credentials and anaconda.org tokens, so
// lock files never carry secrets.
func cleanChannelURL(u string) string {
	u = strings.TrimRight(u, "/")
	if u == "" {
		return u
	}
	u = splitToken(u)
	if scheme, rest, ok := strings.Cut(u, "://"); ok {
		host, p, _ := strings.Cut(rest, "/")
		if i := strings.LastIndexByte(host, '@'); i >= 0 {
			host = host[i+1:]
		}
		u = scheme + "://" + host
		if p != "" {
			u += "/" + p
		}
	}
	return u
}

// sortRecords orders records by file name, moving each record once.
func sortRecords(recs []PackageRecord) {
	sorted := true
	for i := 1; i < len(recs); i++ {
		if recs[i-1].Fn > recs[i].Fn {
			sorted = false
			break
		}
	}
	if sorted {
		return
	}
	idx := make([]int32, len(recs))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortStableFunc(idx, func(a, b int32) int { return strings.Compare(recs[a].Fn, recs[b].Fn) })
	// Apply the permutation in place: position i receives recs[idx[i]].
	for i := range idx {
		if idx[i] < 0 {
			continue
		}
		tmp := recs[i]
		j := i
		for {
			k := int(idx[j])
			idx[j] = -1
			if k == i {
				recs[j] = tmp
				break
			}
			recs[j] = recs[k]
			j = k
		}
	}
}

// dedupeRecords keeps the last of records sharing a file name (a key repeated in the
// document overrides the earlier one, as JSON decoders do).
func dedupeRecords(recs []PackageRecord) []PackageRecord {
	out := recs[:0]
	for i := range recs {
		if i+1 < len(recs) && recs[i+1].Fn == recs[i].Fn {
			continue
		}
		out = append(out, recs[i])
	}
	return out
}
