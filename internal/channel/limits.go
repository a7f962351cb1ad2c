package channel

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// rateGuard cancels a transfer whose body moves fewer than minRate*window bytes in a
// window: the idle timeout alone never fires on a server that sends one byte every few
// seconds. The guard measures; it shapes nothing that is written.
type rateGuard struct {
	n    atomic.Int64
	slow atomic.Bool
	done chan struct{}
	once sync.Once
}

func startRateGuard(minRate int64, window time.Duration, cancel func()) *rateGuard {
	if minRate <= 0 || window <= 0 {
		return nil
	}
	g := &rateGuard{done: make(chan struct{})}
	need := int64(float64(minRate) * window.Seconds())
	go func() {
		t := time.NewTicker(window)
		defer t.Stop()
		var last int64
		for {
			select {
			case <-g.done:
				return
			case <-t.C:
				n := g.n.Load()
				if n-last < need {
					g.slow.Store(true)
					cancel()
					return
				}
				last = n
			}
		}
	}()
	return g
}

func (g *rateGuard) reader(r io.Reader) io.Reader {
	if g == nil {
		return r
	}
	return &guardedReader{r: r, g: g}
}

func (g *rateGuard) tooSlow() bool { return g != nil && g.slow.Load() }

func (g *rateGuard) stop() {
	if g != nil {
		g.once.Do(func() { close(g.done) })
	}
}

type guardedReader struct {
	r io.Reader
	g *rateGuard
}

func (r *guardedReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.g.n.Add(int64(n))
	return n, err
}

// RepodataSizeError is a repodata document larger, once decompressed, than the limit
// set by WithMaxRepodataSize.
type RepodataSizeError struct {
	URL   string // redacted
	Limit int64
}

func (e *RepodataSizeError) Error() string {
	return fmt.Sprintf("%s: repodata exceeds %d bytes once decompressed (a hostile or broken server?); raise --max-repodata-size if the channel is genuine", e.URL, e.Limit)
}

// readLimited reads all of r, refusing more than limit bytes (limit <= 0: no bound).
// It reads into fixed-size chunks and joins them only once the end is reached, so a
// document over the limit is refused having allocated about the limit, not the 2-3x
// that a growing slice costs.
func readLimited(r io.Reader, limit int64, url string) ([]byte, error) {
	if limit <= 0 {
		return io.ReadAll(r)
	}
	const chunk = 4 << 20
	var chunks [][]byte
	var total int64
	for {
		n := int64(chunk)
		if left := limit + 1 - total; left < n {
			n = left
		}
		buf := make([]byte, n)
		// Not io.ReadFull: it reports a short final chunk as io.ErrUnexpectedEOF, which
		// must stay the mark of a truncated body.
		got := 0
		var err error
		for got < len(buf) && err == nil {
			var k int
			k, err = r.Read(buf[got:])
			got += k
		}
		total += int64(got)
		if got > 0 {
			chunks = append(chunks, buf[:got])
		}
		if total > limit {
			return nil, &RepodataSizeError{URL: url, Limit: limit}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(chunks) == 1 {
		return chunks[0], nil
	}
	out := make([]byte, 0, total)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out, nil
}
