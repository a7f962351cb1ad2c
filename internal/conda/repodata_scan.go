package conda

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// This file is the repodata decoder's JSON scanner: the buffer window over the input
// (fill, unit), strings without copies where possible, numbers, literals, objects,
// arrays, and skipping values (checked as valid JSON) it does not need. repodata.go
// holds what a repodata document means.

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

	recs []PackageRecord
	// index, when set, makes the decoder index records by name (BuildRepodataIndex)
	// instead of appending them to recs: fields other than the name are checked as
	// parseRecord checks them but not kept.
	index   *indexBuilder
	info    RepodataInfo
	removed []string
	hasInfo bool
	readErr error

	// digest: the bytes read last are being written to opts.digest by a goroutine
	// that reports on digestDone; digestIn hands it the next ones.
	digestIn   chan []byte
	digestDone chan struct{}
	digesting  bool
}

// digestWait waits until the bytes last read have been written to the digest, so the
// buffer may be reused.
func (d *decoder) digestWait() {
	if d.digesting {
		<-d.digestDone
		d.digesting = false
	}
}

// digestAdd hands b, just read, to the digest goroutine (started on first use).
func (d *decoder) digestAdd(b []byte) {
	if d.opts.digest == nil || len(b) == 0 {
		return
	}
	if d.digestIn == nil {
		d.digestIn, d.digestDone = make(chan []byte), make(chan struct{})
		w := d.opts.digest
		in, done := d.digestIn, d.digestDone
		go func() {
			for b := range in {
				w.Write(b)
				done <- struct{}{}
			}
			close(done)
		}()
	}
	d.digestIn <- b
	d.digesting = true
}

// stopDigest waits for the digest goroutine to write what it has and ends it.
func (d *decoder) stopDigest() {
	d.digestWait()
	if d.digestIn != nil {
		close(d.digestIn)
		<-d.digestDone
		d.digestIn = nil
	}
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
	d.digestWait()
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
		d.digestAdd(d.buf[len(d.buf)-n:])
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

// number reads a JSON number at i as an integer; fractions and exponents are accepted
// and truncated.
func (d *decoder) number(i int) (int64, int, error) {
	b := d.buf
	end, isFloat, ok := jsonNumberEnd(b, i)
	if end == len(b) && !d.eof {
		return 0, end, errNeedMore // the number may go on
	}
	if !ok {
		return 0, end, d.fail(i, "invalid number")
	}
	if isFloat {
		f, err := strconv.ParseFloat(string(b[i:end]), 64)
		if err != nil || f >= 1<<63 || f < -(1<<63) {
			return 0, end, d.fail(i, "number out of range")
		}
		return int64(f), end, nil
	}
	j := i
	neg := b[j] == '-'
	if neg {
		j++
	}
	var n int64
	for ; j < end; j++ {
		if n > (1<<63-1)/10-10 {
			return 0, j, d.fail(j, "number out of range")
		}
		n = n*10 + int64(b[j]-'0')
	}
	if neg {
		n = -n
	}
	return n, end, nil
}

// jsonNumberEnd scans the JSON number at b[i:] (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?)
// and returns where it ends, whether it has a fraction or exponent, and whether the
// bytes up to there are a number.
func jsonNumberEnd(b []byte, i int) (end int, isFloat, ok bool) {
	j := i
	digits := func() int {
		k := j
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		return j - k
	}
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case digits() == 0:
		return j, false, false
	}
	if j < len(b) && b[j] == '.' {
		j++
		isFloat = true
		if digits() == 0 {
			return j, true, false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		isFloat = true
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if digits() == 0 {
			return j, true, false
		}
	}
	return j, isFloat, true
}

// maxSkipDepth bounds the nesting of a value the decoder skips, so a hostile document
// cannot exhaust the stack.
const maxSkipDepth = 1000

// skip skips one JSON value at i inside the buffer, checking that it is valid JSON.
func (d *decoder) skip(i int) (int, error) {
	return d.skipDepth(i, 0)
}

func (d *decoder) skipDepth(i, depth int) (int, error) {
	i, err := d.ws(i)
	if err != nil {
		return i, err
	}
	if depth > maxSkipDepth {
		return i, d.fail(i, "value nested too deeply")
	}
	b := d.buf
	switch c := b[i]; {
	case c == '"':
		_, j, err := d.rawString(i)
		return j, err
	case c == '{':
		return d.object(i, func(_ []byte, j int) (int, error) { return d.skipDepth(j, depth+1) })
	case c == '[':
		return d.array(i, func(j int) (int, error) { return d.skipDepth(j, depth+1) })
	case c == '-' || isDigit(c):
		_, j, err := d.number(i)
		return j, err
	default:
		_, j, err := d.literal(i)
		return j, err
	}
}

// skipStream skips a value of any size, letting go of the input it has passed. It reads
// token by token with an explicit stack, so it checks the value is valid JSON without
// holding it.
func (d *decoder) skipStream() error {
	const (
		wantValue        = iota // any value
		wantValueOrClose        // after '[': a value or ']'
		wantKeyOrClose          // after '{': a key or '}'
		wantKey                 // after ',' in an object
		wantColon               // after a key
		wantCommaOrClose        // after a value inside a container
	)
	var stack []byte
	state := wantValue
	for {
		if err := d.unit(d.ws); err != nil {
			return err
		}
		c := d.buf[d.pos]
		ended := false // a value or container ended
		switch state {
		case wantKeyOrClose, wantKey:
			if c == '}' && state == wantKeyOrClose {
				d.pos++
				stack = stack[:len(stack)-1]
				ended = true
				break
			}
			if err := d.unit(func(i int) (int, error) { _, j, err := d.rawString(i); return j, err }); err != nil {
				return err
			}
			state = wantColon
		case wantColon:
			if c != ':' {
				return d.fail(d.pos, fmt.Sprintf("expected ':', found %q", c))
			}
			d.pos++
			state = wantValue
		case wantCommaOrClose:
			top := stack[len(stack)-1]
			switch {
			case c == ',':
				d.pos++
				state = wantValue
				if top == '{' {
					state = wantKey
				}
			case c == '}' && top == '{', c == ']' && top == '[':
				d.pos++
				stack = stack[:len(stack)-1]
				ended = true
			default:
				return d.fail(d.pos, fmt.Sprintf("expected ',' or %q, found %q", map[byte]byte{'{': '}', '[': ']'}[top], c))
			}
		default: // wantValue, wantValueOrClose
			switch {
			case c == ']' && state == wantValueOrClose:
				d.pos++
				stack = stack[:len(stack)-1]
				ended = true
			case c == '{' || c == '[':
				if len(stack) >= maxSkipDepth {
					return d.fail(d.pos, "value nested too deeply")
				}
				d.pos++
				stack = append(stack, c)
				state = wantKeyOrClose
				if c == '[' {
					state = wantValueOrClose
				}
			default:
				if err := d.unit(d.skip); err != nil {
					return err
				}
				ended = true
			}
		}
		if ended {
			if len(stack) == 0 {
				return nil
			}
			state = wantCommaOrClose
		}
	}
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
		var end bool
		if i, end, err = d.next(j, '}'); end || err != nil {
			return i, err
		}
	}
}

// next reads what follows an item of an object or array at j: a ',' (more items
// follow from i) or the closing byte (end: the container ends before i).
func (d *decoder) next(j int, close byte) (i int, end bool, err error) {
	if j, err = d.ws(j); err != nil {
		return j, false, err
	}
	switch d.buf[j] {
	case ',':
		return j + 1, false, nil
	case close:
		return j + 1, true, nil
	}
	return j, false, d.fail(j, fmt.Sprintf("expected ',' or '%c', found %q", close, d.buf[j]))
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
		var end bool
		if i, end, err = d.next(j, ']'); end || err != nil {
			return i, err
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

func (d *decoder) stringField(j int, dst *string, intern bool) (int, error) {
	if d.buf[j] != '"' {
		return j, d.fail(j, fmt.Sprintf("expected a string, found %q", d.buf[j]))
	}
	s, k, err := d.rawString(j)
	if err != nil {
		return k, err
	}
	if d.index != nil {
		// Indexing only needs to know whether the field is empty.
		*dst = ""
		if len(s) > 0 {
			*dst = indexMark
		}
		return k, nil
	}
	if intern {
		*dst = d.internString(s)
	} else {
		*dst = d.strs.alloc(s)
	}
	return k, nil
}

// nameField reads a record's name, which indexing keeps too; consecutive records
// usually share it.
func (d *decoder) nameField(j int, dst *string) (int, error) {
	if d.index == nil {
		return d.stringField(j, dst, true)
	}
	if d.buf[j] != '"' {
		return j, d.fail(j, fmt.Sprintf("expected a string, found %q", d.buf[j]))
	}
	s, k, err := d.rawString(j)
	if err != nil {
		return k, err
	}
	if last := d.index.lastName; string(s) == last {
		*dst = last
	} else {
		*dst = d.internString(s)
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
	if d.index != nil {
		// Indexing only needs to know whether the list is empty.
		*dst = indexEmpty
		if d.index.listLen > 0 {
			*dst = indexList
		}
		return end, nil
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
	if d.index != nil {
		d.index.listLen = 0
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
		if d.index != nil {
			d.index.listLen++
		} else {
			d.lists.tmp = append(d.lists.tmp, d.internString(s))
		}
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
