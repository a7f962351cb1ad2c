package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// Builder locks and builds one recipe. cmd/reprobuild wires it to the builder package.
type Builder interface {
	// Engine names the engine builds use ("embedded" or "buildkit").
	Engine() string
	// Build locks the recipe at req.Recipe (offline, against the channels it names) and
	// builds it. It returns what it made even when it fails part way (a lock without an
	// image), and writes progress to req.Log.
	Build(ctx context.Context, req BuildRequest) (*BuildResult, error)
}

// BuildRequest is one build job.
type BuildRequest struct {
	// Dir is a fresh directory holding only the recipe; the build may write there.
	Dir         string
	Recipe      string
	Namespace   string
	Environment string
	Number      int64
	// Frozen is set for a rebuild: Dir also holds the version's recorded reprobuild.lock,
	// which must be built as it is, without locking again.
	Frozen bool
	Log    io.Writer
}

// BuildResult is what a build made.
type BuildResult struct {
	Lock   []byte
	Digest string
	// Files are documents to keep (REPRODUCE.md, runtime-PLATFORM.json, SBOMs), by name.
	Files map[string][]byte
	// Audit is the four-step audit of the recipe and its lock.
	Audit []Step
	// Registry is what the build pushed to the registry beside the image.
	Registry []RegistryArtifact
}

// Step is one step of the audit with its pass/fail mark.
type Step struct {
	Name  string   `json:"name"`
	Pass  bool     `json:"pass"`
	Lines []string `json:"lines,omitempty"`
}

func decodeSteps(s string) ([]Step, error) {
	var out []Step
	err := json.Unmarshal([]byte(s), &out)
	return out, err
}

// queue is an unbounded FIFO of jobs: a submission never blocks on busy workers.
type queue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	jobs   []job
	closed bool
}

func newQueue() *queue {
	q := &queue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *queue) push(j job) {
	q.mu.Lock()
	q.jobs = append(q.jobs, j)
	q.mu.Unlock()
	q.cond.Signal()
}

func (q *queue) pop() (job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.jobs) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return job{}, false
	}
	j := q.jobs[0]
	q.jobs = q.jobs[1:]
	return j, true
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

func (s *Server) logPath(buildID int64) string {
	return filepath.Join(s.dataDir, "logs", fmt.Sprintf("%d.log", buildID))
}

func (s *Server) artifactPath(sum string) string {
	return filepath.Join(s.dataDir, "artifacts", sum[:2], sum)
}

// worker runs jobs until the queue closes.
func (s *Server) worker(ctx context.Context) {
	defer s.workers.Done()
	for {
		j, ok := s.queue.pop()
		if !ok {
			return
		}
		s.run(ctx, j)
	}
}

func (s *Server) run(ctx context.Context, j job) {
	b := Build{ID: j.BuildID, Engine: s.builder.Engine(), Status: StatusFailed}
	fail := func(err error) {
		b.Error = err.Error()
		if ferr := s.store.finishBuild(context.WithoutCancel(ctx), j.VersionID, b, "", "", nil); ferr != nil {
			s.logf("recording failed build %d: %v", j.BuildID, ferr)
		}
	}
	logFile, err := os.OpenFile(s.logPath(j.BuildID), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		fail(fmt.Errorf("opening build log: %w", err))
		return
	}
	defer logFile.Close()
	if err := s.store.startBuild(ctx, j.VersionID, j.BuildID); err != nil {
		fail(err)
		return
	}
	dir := filepath.Join(s.dataDir, "builds", fmt.Sprint(j.BuildID))
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail(err)
		return
	}
	recipe := filepath.Join(dir, "reprobuild.hcl")
	if err := os.WriteFile(recipe, []byte(j.Recipe), 0o644); err != nil {
		fail(err)
		return
	}
	if j.Lock != "" {
		if err := os.WriteFile(filepath.Join(dir, "reprobuild.lock"), []byte(j.Lock), 0o644); err != nil {
			fail(err)
			return
		}
		fmt.Fprintf(logFile, "== %s/%s version %d: rebuilding from its recorded lock with the %s engine\n", j.Namespace, j.Env, j.Number, b.Engine)
	} else {
		fmt.Fprintf(logFile, "== %s/%s version %d: locking and building with the %s engine\n", j.Namespace, j.Env, j.Number, b.Engine)
	}
	start := s.now()
	res, berr := s.builder.Build(ctx, BuildRequest{Dir: dir, Recipe: recipe, Namespace: j.Namespace, Environment: j.Env, Number: j.Number, Frozen: j.Lock != "", Log: logFile})
	b.DurationMS = s.now().Sub(start).Milliseconds()
	if res == nil {
		res = &BuildResult{}
	}
	var arts []Artifact
	names := make([]string, 0, len(res.Files))
	for n := range res.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a, err := s.putArtifact(n, res.Files[n])
		if err != nil && berr == nil {
			berr = err
		}
		arts = append(arts, a)
	}
	var audit string
	if len(res.Audit) > 0 {
		js, _ := json.Marshal(res.Audit)
		audit = string(js)
	}
	if berr != nil {
		fmt.Fprintf(logFile, "== failed: %v\n", berr)
		b.Error = berr.Error()
		os.RemoveAll(dir) // no partial image left behind as if whole
	} else {
		fmt.Fprintf(logFile, "== succeeded: %s\n", res.Digest)
		b.Status, b.Digest, b.Registry = StatusSucceeded, res.Digest, res.Registry
	}
	if err := s.store.finishBuild(context.WithoutCancel(ctx), j.VersionID, b, string(res.Lock), audit, arts); err != nil {
		s.logf("recording build %d: %v", j.BuildID, err)
	}
	s.cache.forgetVersion(fmt.Sprintf("%s/%s/%d", j.Namespace, j.Env, j.Number))
}

// putArtifact stores data by content hash (written to a temporary file and renamed, so a
// crash never leaves a truncated artifact under its hash).
func (s *Server) putArtifact(name string, data []byte) (Artifact, error) {
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])
	a := Artifact{Name: name, SHA256: sum, Size: int64(len(data))}
	p := s.artifactPath(sum)
	if _, err := os.Stat(p); err == nil {
		return a, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return a, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return a, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return a, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return a, err
	}
	if err := tmp.Close(); err != nil {
		return a, err
	}
	return a, os.Rename(tmp.Name(), p)
}
