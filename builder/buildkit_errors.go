package builder

import (
	"fmt"
	"strings"
	"sync"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/solver/errdefs"
	digest "github.com/opencontainers/go-digest"
)

// BuildKitStepError is a failed BuildKit step: its name, the recipe line it came from
// (when the recipe was given) and the last lines it printed.
type BuildKitStepError struct {
	Addr     string
	Step     string
	Location string // "reprobuild.hcl:3", or ""
	Output   string // last lines of the step's output
	Err      error
}

func (e *BuildKitStepError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "buildkit build on %s: step %q", e.Addr, e.Step)
	if e.Location != "" {
		fmt.Fprintf(&b, " (from %s)", e.Location)
	}
	b.WriteString(" failed")
	if e.Output != "" {
		fmt.Fprintf(&b, ": %s", e.Output)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *BuildKitStepError) Unwrap() error { return e.Err }

// stepLogs keeps what each step printed, to explain a failure in one message.
type stepLogs struct {
	mu     sync.Mutex
	names  map[digest.Digest]string
	logs   map[digest.Digest][]byte
	failed []digest.Digest
	cached map[digest.Digest]bool
	order  []digest.Digest
}

func newStepLogs() *stepLogs {
	return &stepLogs{names: map[digest.Digest]string{}, logs: map[digest.Digest][]byte{}, cached: map[digest.Digest]bool{}}
}

func (s *stepLogs) add(st *client.SolveStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range st.Vertexes {
		if _, seen := s.names[v.Digest]; !seen {
			s.order = append(s.order, v.Digest)
		}
		s.names[v.Digest] = v.Name
		if v.Cached {
			s.cached[v.Digest] = true
		}
		if v.Error != "" {
			s.failed = append(s.failed, v.Digest)
		}
	}
	for _, l := range st.Logs {
		s.logs[l.Vertex] = append(s.logs[l.Vertex], l.Data...)
	}
}

// explain wraps err with the first failed step, its recipe location and its output.
func (s *stepLogs) explain(addr string, err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	loc := ""
	for _, src := range errdefs.Sources(err) {
		if src.Info != nil && len(src.Ranges) > 0 {
			loc = fmt.Sprintf("%s:%d", src.Info.Filename, src.Ranges[0].Start.Line)
			break
		}
	}
	if len(s.failed) == 0 {
		if loc != "" {
			return fmt.Errorf("buildkit build on %s (from %s): %w", addr, loc, err)
		}
		return fmt.Errorf("buildkit build on %s: %w", addr, err)
	}
	d := s.failed[0]
	return &BuildKitStepError{Addr: addr, Step: s.names[d], Location: loc, Output: lastLines(string(s.logs[d]), 3), Err: err}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, " | ")
}

// steps lists every step the solve reported, in first-seen order.
func (s *stepLogs) steps() []BuildKitStep {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]BuildKitStep, 0, len(s.order))
	for _, d := range s.order {
		out = append(out, BuildKitStep{Name: s.names[d], Cached: s.cached[d]})
	}
	return out
}
