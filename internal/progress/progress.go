package progress

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Mode selects how a Reporter prints.
type Mode int

// Modes.
const (
	Quiet   Mode = iota // nothing
	Plain               // a line when a phase starts and one when it ends
	Verbose             // Plain, and a line for every counted step
	TTY                 // a status line redrawn in place, a line per finished phase
)

// Reporter starts phases. A nil *Reporter is valid and quiet.
type Reporter struct {
	mu     sync.Mutex
	w      io.Writer
	mode   Mode
	now    func() time.Time
	active []*Task
	drawn  bool
}

// New returns a reporter printing to w. now is the clock used for durations (nil: no
// durations are shown).
func New(w io.Writer, mode Mode, now func() time.Time) *Reporter {
	if w == nil || mode == Quiet {
		return nil
	}
	return &Reporter{w: w, mode: mode, now: now}
}

// Task is one running phase. A nil *Task is valid and does nothing.
type Task struct {
	r      *Reporter
	name   string
	unit   string
	total  int64
	done   int64
	start  time.Time
	detail string
}

// Start begins a phase named name ("solve linux-64", "push registry/x:1").
func (r *Reporter) Start(name string) *Task {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t := &Task{r: r, name: name}
	if r.now != nil {
		t.start = r.now()
	}
	r.active = append(r.active, t)
	switch r.mode {
	case TTY:
		r.draw()
	default:
		fmt.Fprintf(r.w, "%s ...\n", name)
	}
	return t
}

// Total sets how much the phase will count, in unit ("bytes", "packages", "layers").
func (t *Task) Total(n int64, unit string) {
	if t == nil {
		return
	}
	t.r.mu.Lock()
	defer t.r.mu.Unlock()
	t.total, t.unit = n, unit
	if t.r.mode == TTY {
		t.r.draw()
	}
}

// Add counts n more done, naming what was done (shown by the verbose and TTY modes).
func (t *Task) Add(n int64, what string) {
	if t == nil {
		return
	}
	t.r.mu.Lock()
	defer t.r.mu.Unlock()
	t.done += n
	t.detail = what
	switch t.r.mode {
	case TTY:
		t.r.draw()
	case Verbose:
		if what != "" {
			if c := t.count(); c != "" {
				what += " (" + c + ")"
			}
			fmt.Fprintf(t.r.w, "  %s: %s\n", t.name, what)
		}
	}
}

// Done ends the phase, successfully when err is nil.
func (t *Task) Done(err error) {
	if t == nil {
		return
	}
	r := t.r
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, a := range r.active {
		if a == t {
			r.active = append(r.active[:i], r.active[i+1:]...)
			break
		}
	}
	status := "done"
	if err != nil {
		status = "failed"
	}
	line := fmt.Sprintf("%s: %s", t.name, status)
	if c := t.count(); c != "" {
		line += ", " + c
	}
	if r.now != nil && !t.start.IsZero() {
		line += fmt.Sprintf(" in %s", r.now().Sub(t.start).Round(time.Millisecond))
	}
	if r.mode == TTY {
		r.clear()
		fmt.Fprintf(r.w, "%s %s\n", map[bool]string{true: "✔", false: "✘"}[err == nil], line)
		r.draw()
		return
	}
	fmt.Fprintln(r.w, line)
}

// count is "3/10 packages" or "1.2 MiB/4.0 MiB".
func (t *Task) count() string {
	if t.total == 0 && t.done == 0 {
		return ""
	}
	f := func(n int64) string { return fmt.Sprint(n) }
	unit := " " + t.unit
	if t.unit == "bytes" {
		f, unit = Bytes, ""
	}
	if t.total > 0 {
		return f(t.done) + "/" + f(t.total) + unit
	}
	return f(t.done) + unit
}

// draw redraws the status line of the running phases (TTY mode; r.mu held).
func (r *Reporter) draw() {
	r.clear()
	if len(r.active) == 0 {
		return
	}
	var parts []string
	for _, t := range r.active {
		s := t.name
		if c := t.count(); c != "" {
			s += " " + c
		}
		if t.detail != "" {
			s += " " + t.detail
		}
		parts = append(parts, s)
	}
	line := "… " + strings.Join(parts, " | ")
	if len(line) > 150 {
		line = line[:147] + "..."
	}
	fmt.Fprint(r.w, line)
	r.drawn = true
}

func (r *Reporter) clear() {
	if r.drawn {
		fmt.Fprint(r.w, "\r\033[K")
		r.drawn = false
	}
}

// Bytes formats a byte count with binary units.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

type ctxKey struct{}

// WithReporter returns ctx carrying r, as BuildKit's progress travels in the context:
// the phases deep in a build report without every function taking a reporter.
func WithReporter(ctx context.Context, r *Reporter) context.Context {
	return context.WithValue(ctx, ctxKey{}, r)
}

// FromContext returns the reporter ctx carries, or nil (quiet).
func FromContext(ctx context.Context) *Reporter {
	r, _ := ctx.Value(ctxKey{}).(*Reporter)
	return r
}
