package channel

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"

	rbprogress "github.com/reprobuild/reprobuild/internal/progress"
)

// progress reports downloads: a redrawn bar on a terminal, one line per package
// otherwise. A nil writer makes every method a no-op.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	total    int
	finished int
	bytes    int64
	drawn    bool
}

func newProgress(w io.Writer, terminal bool, total int) *progress {
	if w == nil || total == 0 {
		return nil
	}
	return &progress{w: w, terminal: terminal, total: total}
}

func (p *progress) add(n int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bytes += n
	if p.terminal {
		p.draw("")
	}
}

// done records a finished package; u is only shown by host, never with credentials.
func (p *progress) done(name string, n int64, u string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished++
	if p.terminal {
		p.draw(name)
		return
	}
	fmt.Fprintf(p.w, "fetched %s (%s) from %s\n", name, humanBytes(n), hostOf(u))
}

func (p *progress) draw(name string) {
	const width = 30
	fill := width * p.finished / p.total
	bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
	fmt.Fprintf(p.w, "\r\x1b[K[%s] %d/%d packages, %s %s", bar, p.finished, p.total, humanBytes(p.bytes), name)
	p.drawn = true
}

func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

func hostOf(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return "?"
	}
	if pu.Scheme == "file" {
		return "local channel"
	}
	return pu.Host
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// downloadKey marks a context whose HTTP downloads are reported, with bytes and total,
// to the context's progress reporter (internal/progress): repodata documents, which
// can take a while; package downloads have their own bar (WithProgress).
type downloadKey struct{}

func withDownloadProgress(ctx context.Context) context.Context {
	return context.WithValue(ctx, downloadKey{}, true)
}

// meterStep is how many bytes are read between two progress updates, so a terminal
// is not redrawn for every read.
const meterStep = 256 << 10

// meterDownload returns r counted as a "download URL" task when ctx asks for it (and
// has a reporter), else r and a nil meter. total is the Content-Length (-1: unknown).
func meterDownload(ctx context.Context, u string, total int64, r io.Reader) (io.Reader, *meterReader) {
	if ctx.Value(downloadKey{}) == nil {
		return r, nil
	}
	task := rbprogress.FromContext(ctx).Start("download " + u)
	if task == nil {
		return r, nil
	}
	task.Total(max(total, 0), "bytes")
	m := &meterReader{r: r, task: task}
	return m, m
}

type meterReader struct {
	r       io.Reader
	task    *rbprogress.Task
	pending int64
}

func (m *meterReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.pending += int64(n)
	if m.pending >= meterStep {
		m.flush()
	}
	return n, err
}

func (m *meterReader) flush() {
	if m.pending > 0 {
		m.task.Add(m.pending, "")
		m.pending = 0
	}
}

// Done ends the task with what was read.
func (m *meterReader) Done(err error) {
	if m == nil {
		return
	}
	m.flush()
	m.task.Done(err)
}
