package conda

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"slices"
	"strings"
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
}

// WithSource names the document (a path or URL) in error messages.
func WithSource(name string) RepodataOption { return func(o *repodataOptions) { o.source = name } }

// WithSubdir gives the subdir for records and documents that do not state one (flat
// conda indexes).
func WithSubdir(subdir string) RepodataOption {
	return func(o *repodataOptions) { o.subdir = subdir }
}

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
	return d.run(channelURL)
}

// errNeedMore signals that the current unit ran past the buffered bytes.
var errNeedMore = errors.New("need more input")

type decoder struct {
	r    io.Reader
	buf  []byte
	pos  int
	base int64 // document offset of buf[0]
	eof  bool
	opts *repodataOptions

	// Current unit being decoded, for error messages.
	record string

	strs    stringArena
	lists   listArena
	intern  map[string]string
	scratch []byte
	keybuf  []byte

	recs    []PackageRecord
	info    RepodataInfo
	removed []string
	hasInfo bool
	readErr error
}

func newDecoder(r io.Reader, buf []byte, o *repodataOptions) *decoder {
	d := &decoder{r: r, buf: buf, eof: r == nil, opts: o, intern: make(map[string]string, 1<<12)}
	n := 1024
	if o.sizeHint > 0 {
		// Real repodata spends 500-900 bytes per record; reserving for 450 avoids
		// regrowing the table. Capacity never written is never touched.
		n = int(o.sizeHint/450) + 64
	}
	d.recs = make([]PackageRecord, 0, n)
	return d
}

func (d *decoder) fail(off int, reason string) error {
	return &RepodataError{Source: d.opts.source, Record: d.record, Offset: d.base + int64(off), Reason: reason}
}

// fill reads more input, keeping buf[keep:]; it reports false at end of input.
func (d *decoder) fill(keep int) bool {
	if d.eof {
		return false
	}
	if keep > 0 {
		n := copy(d.buf, d.buf[keep:])
		d.buf = d.buf[:n]
		d.base += int64(keep)
		d.pos -= keep
	}
	if len(d.buf) == cap(d.buf) {
		nb := make([]byte, len(d.buf), 2*cap(d.buf))
		copy(nb, d.buf)
		d.buf = nb
	}
	for {
		n, err := d.r.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+n]
		if err != nil {
			d.eof = true
			if err != io.EOF {
				d.readErr = err
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// unit runs f on the buffered bytes from d.pos, refilling and retrying when f runs out
// of input. f returns the position after the unit.
func (d *decoder) unit(f func(i int) (int, error)) error {
	for {
		end, err := f(d.pos)
		if err == nil {
			d.pos = end
			return nil
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
		// Run f again: with more input, or at the end of input for its precise error.
	}
}

func (o *repodataOptions) sourceName() string {
	if o.source == "" {
		return "repodata"
	}
	return o.source
}

func isWS(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// ws skips white space; it returns errNeedMore at the end of the buffered input.
func (d *decoder) ws(i int) (int, error) {
	b := d.buf
	for i < len(b) && isWS(b[i]) {
		i++
	}
	if i == len(b) {
		if d.eof {
			return i, d.fail(i, "unexpected end of document")
		}
		return i, errNeedMore
	}
	return i, nil
}

func (d *decoder) expect(i int, c byte) (int, error) {
	i, err := d.ws(i)
	if err != nil {
		return i, err
	}
	if d.buf[i] != c {
		return i, d.fail(i, fmt.Sprintf("expected %q, found %q", c, d.buf[i]))
	}
	return i + 1, nil
}

// rawString reads a JSON string at i; it returns the unescaped bytes (valid until the
// next call) and the position after it.
func (d *decoder) rawString(i int) ([]byte, int, error) {
	i, err := d.ws(i)
	if err != nil {
		return nil, i, err
	}
	b := d.buf
	if b[i] != '"' {
		return nil, i, d.fail(i, fmt.Sprintf("expected a string, found %q", b[i]))
	}
	start := i + 1
	// Find the closing quote and any backslash with the (vectorised) byte search.
	q := bytes.IndexByte(b[start:], '"')
	if q < 0 {
		if bs := bytes.IndexByte(b[start:], '\\'); bs >= 0 {
			return d.escapedString(start, start+bs)
		}
		if d.eof {
			return nil, len(b), d.fail(len(b), "unterminated string")
		}
		return nil, len(b), errNeedMore
	}
	s := b[start : start+q]
	if bs := bytes.IndexByte(s, '\\'); bs >= 0 {
		return d.escapedString(start, start+bs)
	}
	// Raw control characters are invalid JSON; like Python's json module, reject them.
	for k, c := range s {
		if c < 0x20 {
			return nil, start + k, d.fail(start+k, "control character in string")
		}
	}
	return s, start + q + 1, nil
}

func (d *decoder) escapedString(start, j int) ([]byte, int, error) {
	b := d.buf
	out := append(d.scratch[:0], b[start:j]...)
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			d.scratch = out
			return out, j + 1, nil
		case c == '\\':
			if j+1 >= len(b) {
				goto more
			}
			e := b[j+1]
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				if j+6 > len(b) {
					goto more
				}
				r, ok := hex4(b[j+2 : j+6])
				if !ok {
					return nil, j, d.fail(j, "invalid \\u escape")
				}
				j += 6
				if r >= 0xD800 && r < 0xDC00 {
					if j+6 > len(b) {
						goto more
					}
					if b[j] == '\\' && b[j+1] == 'u' {
						if r2, ok := hex4(b[j+2 : j+6]); ok && r2 >= 0xDC00 && r2 < 0xE000 {
							r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
							j += 6
						} else {
							r = 0xFFFD
						}
					} else {
						r = 0xFFFD
					}
				} else if r >= 0xDC00 && r < 0xE000 {
					r = 0xFFFD
				}
				out = appendRune(out, r)
				continue
			default:
				return nil, j, d.fail(j, "invalid escape in string")
			}
			j += 2
		case c < 0x20:
			return nil, j, d.fail(j, "control character in string")
		default:
			out = append(out, c)
			j++
		}
	}
more:
	d.scratch = out
	if d.eof {
		return nil, j, d.fail(j, "unterminated string")
	}
	return nil, j, errNeedMore
}

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

func appendRune(b []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(b, byte(r))
	case r < 0x800:
		return append(b, 0xC0|byte(r>>6), 0x80|byte(r&0x3F))
	case r < 0x10000:
		return append(b, 0xE0|byte(r>>12), 0x80|byte(r>>6&0x3F), 0x80|byte(r&0x3F))
	default:
		return append(b, 0xF0|byte(r>>18), 0x80|byte(r>>12&0x3F), 0x80|byte(r>>6&0x3F), 0x80|byte(r&0x3F))
	}
}

// internString returns a shared copy of b; repodata repeats names, versions, licences
// and dependency specs across thousands of records.
func (d *decoder) internString(b []byte) string {
	if s, ok := d.intern[string(b)]; ok {
		return s
	}
	s := d.strs.alloc(b)
	d.intern[s] = s
	return s
}

// literal reads true, false or null at i.
func (d *decoder) literal(i int) (byte, int, error) {
	b := d.buf
	for _, lit := range []string{"true", "false", "null"} {
		if b[i] != lit[0] {
			continue
		}
		if i+len(lit) > len(b) {
			if d.eof {
				return 0, i, d.fail(i, "unexpected end of document")
			}
			return 0, i, errNeedMore
		}
		if string(b[i:i+len(lit)]) != lit {
			return 0, i, d.fail(i, "invalid literal")
		}
		return lit[0], i + len(lit), nil
	}
	return 0, i, d.fail(i, fmt.Sprintf("unexpected %q", b[i]))
}

// number reads an integer at i; fractions and exponents are accepted and truncated.
func (d *decoder) number(i int) (int64, int, error) {
	b := d.buf
	j := i
	neg := false
	if j < len(b) && b[j] == '-' {
		neg = true
		j++
	}
	var n int64
	digits := 0
	for j < len(b) && isDigit(b[j]) {
		if n > (1<<63-1)/10-10 {
			return 0, j, d.fail(j, "number out of range")
		}
		n = n*10 + int64(b[j]-'0')
		j++
		digits++
	}
	if j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E') {
		return d.floatNumber(i)
	}
	if j == len(b) && !d.eof {
		return 0, j, errNeedMore
	}
	if digits == 0 {
		return 0, j, d.fail(j, "invalid number")
	}
	if neg {
		n = -n
	}
	return n, j, nil
}

func (d *decoder) floatNumber(i int) (int64, int, error) {
	b := d.buf
	j := i
	for j < len(b) && (isDigit(b[j]) || b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E') {
		j++
	}
	if j == len(b) && !d.eof {
		return 0, j, errNeedMore
	}
	var f float64
	if _, err := fmt.Sscanf(string(b[i:j]), "%g", &f); err != nil {
		return 0, j, d.fail(i, "invalid number")
	}
	return int64(f), j, nil
}

// skip skips one JSON value at i inside the buffer.
func (d *decoder) skip(i int) (int, error) {
	i, err := d.ws(i)
	if err != nil {
		return i, err
	}
	b := d.buf
	switch c := b[i]; {
	case c == '"':
		_, j, err := d.rawString(i)
		return j, err
	case c == '{' || c == '[':
		depth := 0
		j := i
		for j < len(b) {
			switch b[j] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			case '"':
				_, k, err := d.rawString(j)
				if err != nil {
					return k, err
				}
				j = k
				continue
			}
			j++
		}
		if d.eof {
			return j, d.fail(j, "unterminated value")
		}
		return j, errNeedMore
	case c == '-' || isDigit(c):
		_, j, err := d.number(i)
		return j, err
	default:
		_, j, err := d.literal(i)
		return j, err
	}
}

// skipStream skips a value of any size, letting go of the input it has passed.
func (d *decoder) skipStream() error {
	if err := d.unit(d.ws); err != nil {
		return err
	}
	c := d.buf[d.pos]
	if c != '{' && c != '[' {
		return d.unit(d.skip)
	}
	depth := 0
	inStr, esc := false, false
	for {
		b := d.buf
		for j := d.pos; j < len(b); j++ {
			c := b[j]
			if inStr {
				switch {
				case esc:
					esc = false
				case c == '\\':
					esc = true
				case c == '"':
					inStr = false
				}
				continue
			}
			switch c {
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					d.pos = j + 1
					return nil
				}
			}
		}
		d.pos = len(b)
		if !d.fill(d.pos) {
			return d.fail(len(d.buf), "unterminated value")
		}
	}
}

func (d *decoder) run(channelURL string) (*Repodata, error) {
	if err := d.unit(func(i int) (int, error) { return d.expect(i, '{') }); err != nil {
		return nil, err
	}
	first := true
	for {
		var key string
		done := false
		err := d.unit(func(i int) (int, error) {
			i, err := d.ws(i)
			if err != nil {
				return i, err
			}
			if d.buf[i] == '}' {
				done = true
				return i + 1, nil
			}
			if !first {
				if d.buf[i] != ',' {
					return i, d.fail(i, fmt.Sprintf("expected ',' or '}', found %q", d.buf[i]))
				}
				i++
			}
			k, i, err := d.rawString(i)
			if err != nil {
				return i, err
			}
			key = string(k)
			return d.expect(i, ':')
		})
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
		first = false
		switch {
		case key == "info":
			if err := d.unit(d.parseInfo); err != nil {
				return nil, err
			}
		case key == "packages" || key == "packages.conda":
			if err := d.parsePackages(key); err != nil {
				return nil, err
			}
		case key == "removed":
			if err := d.unit(d.parseRemoved); err != nil {
				return nil, err
			}
		case hasPackageExtension(key):
			// A flat conda index maps file names to records at the top level.
			var isObj bool
			if err := d.unit(func(i int) (int, error) {
				i, err := d.ws(i)
				isObj = err == nil && d.buf[i] == '{'
				return i, err
			}); err != nil {
				return nil, err
			}
			if !isObj {
				if err := d.skipStream(); err != nil {
					return nil, err
				}
				continue
			}
			if err := d.parseRecordUnit(key); err != nil {
				return nil, err
			}
		default:
			if err := d.skipStream(); err != nil {
				return nil, err
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
			return nil, d.fail(i, "data after the document")
		}
		if !d.fill(d.pos) {
			break
		}
	}
	if d.readErr != nil {
		return nil, fmt.Errorf("reading %s: %w", d.opts.sourceName(), d.readErr)
	}
	return d.finish(channelURL)
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

// object parses {"k": v, ...}, calling f for each value with the key.
func (d *decoder) object(i int, f func(key []byte, j int) (int, error)) (int, error) {
	i, err := d.expect(i, '{')
	if err != nil {
		return i, err
	}
	i, err = d.ws(i)
	if err != nil {
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
		// Keep the key apart from string values decoded next.
		d.keybuf = append(d.keybuf[:0], key...)
		k := d.keybuf
		j, err = d.expect(j, ':')
		if err != nil {
			return j, err
		}
		j, err = d.ws(j)
		if err != nil {
			return j, err
		}
		j, err = f(k, j)
		if err != nil {
			return j, err
		}
		j, err = d.ws(j)
		if err != nil {
			return j, err
		}
		switch d.buf[j] {
		case ',':
			i = j + 1
		case '}':
			return j + 1, nil
		default:
			return j, d.fail(j, fmt.Sprintf("expected ',' or '}', found %q", d.buf[j]))
		}
	}
}

func (d *decoder) array(i int, f func(j int) (int, error)) (int, error) {
	i, err := d.expect(i, '[')
	if err != nil {
		return i, err
	}
	i, err = d.ws(i)
	if err != nil {
		return i, err
	}
	if d.buf[i] == ']' {
		return i + 1, nil
	}
	for {
		j, err := d.ws(i)
		if err != nil {
			return j, err
		}
		j, err = f(j)
		if err != nil {
			return j, err
		}
		j, err = d.ws(j)
		if err != nil {
			return j, err
		}
		switch d.buf[j] {
		case ',':
			i = j + 1
		case ']':
			return j + 1, nil
		default:
			return j, d.fail(j, fmt.Sprintf("expected ',' or ']', found %q", d.buf[j]))
		}
	}
}

// optString reads a string or null into *dst (copied).
func (d *decoder) optString(j int, dst *string) (int, error) {
	if d.buf[j] == 'n' {
		_, k, err := d.literal(j)
		*dst = ""
		return k, err
	}
	s, k, err := d.rawString(j)
	if err != nil {
		return k, err
	}
	*dst = d.internString(s)
	return k, nil
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
		var fn string
		done := false
		err := d.unit(func(i int) (int, error) {
			i, err := d.ws(i)
			if err != nil {
				return i, err
			}
			if d.buf[i] == '}' {
				done = true
				return i + 1, nil
			}
			if !first {
				if d.buf[i] != ',' {
					return i, d.fail(i, fmt.Sprintf("expected ',' or '}' in %q, found %q", section, d.buf[i]))
				}
				i++
			}
			k, i, err := d.rawString(i)
			if err != nil {
				return i, err
			}
			fn = d.strs.alloc(k)
			return d.expect(i, ':')
		})
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		first = false
		if err := d.parseRecordUnit(fn); err != nil {
			return err
		}
	}
}

func (d *decoder) parseRecordUnit(fn string) error {
	d.record = fn
	d.recs = append(d.recs, PackageRecord{})
	rec := &d.recs[len(d.recs)-1]
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
		return &RepodataError{Source: d.opts.source, Record: fn, Offset: d.base + int64(d.pos), Reason: "missing " + missing}
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
		return d.stringField(j, &rec.Name, true)
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

func (d *decoder) stringField(j int, dst *string, intern bool) (int, error) {
	if d.buf[j] != '"' {
		return j, d.fail(j, fmt.Sprintf("expected a string, found %q", d.buf[j]))
	}
	s, k, err := d.rawString(j)
	if err != nil {
		return k, err
	}
	if intern {
		*dst = d.internString(s)
	} else {
		*dst = d.strs.alloc(s)
	}
	return k, nil
}

func (d *decoder) intField(j int, dst *int64, name string) (int, error) {
	c := d.buf[j]
	if c != '-' && !isDigit(c) {
		return j, d.fail(j, fmt.Sprintf("%s must be a number, found %q", name, c))
	}
	n, k, err := d.number(j)
	if err != nil {
		return k, err
	}
	*dst = n
	return k, nil
}

func (d *decoder) listField(j int, dst *[]string, name string) (int, error) {
	if d.buf[j] != '[' {
		return j, d.fail(j, fmt.Sprintf("%s must be a list, found %q", name, d.buf[j]))
	}
	start := len(d.lists.tmp)
	end, err := d.stringList(j+1, name)
	if err != nil {
		d.lists.tmp = d.lists.tmp[:start]
		return end, err
	}
	*dst = d.lists.take(start)
	return end, nil
}

// stringList reads the strings of an array whose '[' is before i into d.lists.tmp.
func (d *decoder) stringList(i int, name string) (int, error) {
	i, err := d.ws(i)
	if err != nil {
		return i, err
	}
	if d.buf[i] == ']' {
		return i + 1, nil
	}
	for {
		if i, err = d.ws(i); err != nil {
			return i, err
		}
		if d.buf[i] != '"' {
			return i, d.fail(i, fmt.Sprintf("%s entries must be strings, found %q", name, d.buf[i]))
		}
		s, e, err := d.rawString(i)
		if err != nil {
			return e, err
		}
		d.lists.tmp = append(d.lists.tmp, d.internString(s))
		if e, err = d.ws(e); err != nil {
			return e, err
		}
		switch d.buf[e] {
		case ',':
			i = e + 1
		case ']':
			return e + 1, nil
		default:
			return e, d.fail(e, fmt.Sprintf("expected ',' or ']', found %q", d.buf[e]))
		}
	}
}

func (d *decoder) splitTrackFeatures(s string) []string {
	start := len(d.lists.tmp)
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		d.lists.tmp = append(d.lists.tmp, d.internString([]byte(f)))
	}
	if len(d.lists.tmp) == start {
		return nil
	}
	return d.lists.take(start)
}

// finish fills the location fields, sorts the records and checks what only the whole
// document can tell.
func (d *decoder) finish(channelURL string) (*Repodata, error) {
	channel := cleanChannelURL(channelURL)
	subdir := d.info.Subdir
	if subdir == "" {
		subdir = d.opts.subdir
	}
	prefix := ""
	switch {
	case d.info.BaseURL != "":
		base := d.info.BaseURL
		if !hasScheme(base) && channel != "" {
			ref, err1 := url.Parse(base)
			from, err2 := url.Parse(channel + "/" + subdir + "/")
			if err1 != nil || err2 != nil {
				return nil, &RepodataError{Source: d.opts.source, Record: "info", Reason: fmt.Sprintf("invalid base_url %q", base)}
			}
			base = from.ResolveReference(ref).String()
		}
		prefix = strings.TrimRight(base, "/") + "/"
	case channel != "":
		prefix = channel + "/" + subdir + "/"
	}
	for i := range d.recs {
		r := &d.recs[i]
		if r.Subdir == "" {
			if subdir == "" {
				return nil, &RepodataError{Source: d.opts.source, Record: r.Fn, Reason: "no subdir in the record or the document; pass WithSubdir"}
			}
			r.Subdir = subdir
		}
		r.Channel = channel
		if prefix != "" {
			p := prefix
			if d.info.BaseURL == "" && r.Subdir != subdir {
				p = channel + "/" + r.Subdir + "/"
			}
			u := d.strs.concat(p, r.Fn)
			r.URL = u
			// The file name shares the URL's bytes.
			r.Fn = u[len(p):]
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
