package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	// DataDir holds the SQLite database (unless DB is set), build logs, artifacts, built
	// images and the first admin token.
	DataDir string
	// DB is "" (SQLite under DataDir), "sqlite:PATH" or "postgres://...".
	DB      string
	Policy  Policy
	Builder Builder
	// Workers bounds concurrent builds (default 2).
	Workers int
	// Registry is where builds push images ("" keeps them under DataDir); shown in the
	// run lines.
	Registry string
	// Now is the clock for timestamps in the database.
	Now func() time.Time
	// Logf receives server messages (nil: discarded).
	Logf func(format string, args ...any)
}

// Server is the catalogue service.
type Server struct {
	opts    Options
	dataDir string
	store   *Store
	builder Builder
	queue   *queue
	workers sync.WaitGroup
	now     func() time.Time
	logf    func(string, ...any)
	mux     *http.ServeMux
	tmpl    *templates
	cache   *readCache

	// AdminTokenPath is where the first admin token was written; AdminTokenCreated says
	// whether this start created it.
	AdminTokenPath    string
	AdminTokenCreated bool
	// Interrupted counts builds a previous run left unfinished, marked failed at start.
	Interrupted int64
	pending     []job
}

// New opens the store (applying migrations), marks builds a stopped server left running
// as failed, and makes the first admin token when there is none.
func New(ctx context.Context, o Options) (*Server, error) {
	if o.DataDir == "" {
		return nil, errors.New("serve needs --data DIR")
	}
	if o.Builder == nil {
		return nil, errors.New("catalog: no builder")
	}
	if o.Now == nil {
		return nil, errors.New("catalog: no clock")
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	for _, d := range []string{"logs", "artifacts", "builds"} {
		if err := os.MkdirAll(filepath.Join(o.DataDir, d), 0o755); err != nil {
			return nil, fmt.Errorf("--data %s: %w", o.DataDir, err)
		}
	}
	st, err := OpenStore(ctx, o.DB, o.DataDir, o.Now)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: o, dataDir: o.DataDir, store: st, builder: o.Builder, queue: newQueue(), now: o.Now, logf: o.Logf, cache: newReadCache()}
	s.AdminTokenPath = filepath.Join(o.DataDir, "admin-token")
	if s.AdminTokenCreated, err = st.EnsureAdminToken(ctx, s.AdminTokenPath); err != nil {
		st.Close()
		return nil, err
	}
	if s.Interrupted, s.pending, err = st.recoverInterrupted(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("recovering interrupted builds: %w", err)
	}
	if err := s.removeUnfinishedBuildDirs(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if s.tmpl, err = parseTemplates(); err != nil {
		st.Close()
		return nil, err
	}
	s.routes()
	return s, nil
}

// Store is the server's store.
func (s *Server) Store() *Store { return s.store }

// Start runs the worker pool until ctx ends; queued builds from a previous run go first.
func (s *Server) Start(ctx context.Context) {
	for _, j := range s.pending {
		s.queue.push(j)
	}
	s.pending = nil
	for range s.opts.Workers {
		s.workers.Add(1)
		go s.worker(ctx)
	}
	go func() {
		<-ctx.Done()
		s.queue.close()
	}()
}

// Close waits for the workers (after Start's ctx ended) and closes the store.
func (s *Server) Close() error {
	s.queue.close()
	s.workers.Wait()
	return s.store.Close()
}

// Handler is the HTTP handler: the API, the web page and /healthz.
func (s *Server) Handler() http.Handler { return s.mux }

// Submit records a recipe as the next version of ns/env and queues its build. A recipe
// with errors or refused by policy is a *RecipeError and records nothing.
func (s *Server) Submit(ctx context.Context, p *Principal, ns, env, filename, recipe string) (*Version, error) {
	if !p.Can(RoleEditor, ns) {
		return nil, &httpError{http.StatusForbidden, fmt.Sprintf("token %q (%s of %s) may not submit to namespace %s: an editor or admin token for it is needed", p.Name, p.Role, p.Namespace, ns)}
	}
	if err := ValidName("namespace", ns); err != nil {
		return nil, &httpError{http.StatusBadRequest, err.Error()}
	}
	if err := ValidName("environment", env); err != nil {
		return nil, &httpError{http.StatusBadRequest, err.Error()}
	}
	filename = filepath.Base(filename)
	if filename == "." || filename == "/" || filename == "" {
		filename = "reprobuild.hcl"
	}
	if _, err := CheckRecipe(filename, []byte(recipe), s.opts.Policy); err != nil {
		return nil, err
	}
	v, err := s.store.CreateVersion(ctx, ns, env, filename, recipe, p.Name, s.builder.Engine())
	if err != nil {
		return nil, err
	}
	s.queue.push(job{VersionID: v.ID, BuildID: v.Builds[0].ID, Namespace: ns, Env: env, Number: v.Number, Filename: filename, Recipe: recipe})
	return v, nil
}

// Rebuild queues another build of version number of ns/env from its recorded recipe and
// lock.
func (s *Server) Rebuild(ctx context.Context, p *Principal, ns, env string, number int64) (int64, error) {
	if !p.Sees(ns) {
		return 0, ErrNotFound
	}
	if !p.Can(RoleEditor, ns) {
		return 0, &httpError{http.StatusForbidden, fmt.Sprintf("token %q (%s of %s) may not rebuild in namespace %s: an editor or admin token for it is needed", p.Name, p.Role, p.Namespace, ns)}
	}
	j, err := s.store.CreateBuild(ctx, ns, env, number, p.Name, s.builder.Engine())
	if errors.Is(err, ErrBusy) {
		return 0, &httpError{http.StatusConflict, fmt.Sprintf("%s/%s@%d: %v; wait for it to finish", ns, env, number, err)}
	}
	if err != nil {
		return 0, err
	}
	s.cache.forgetVersion(fmt.Sprintf("%s/%s/%d", ns, env, number))
	s.queue.push(*j)
	return j.BuildID, nil
}

type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *Server) apiError(w http.ResponseWriter, err error) {
	var he *httpError
	var re *RecipeError
	switch {
	case errors.As(err, &re):
		writeJSON(w, http.StatusUnprocessableEntity, re)
	case errors.As(err, &he):
		writeJSON(w, he.code, map[string]string{"error": he.msg})
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found (or not visible to this token)"})
	default:
		s.logf("internal error: %v", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
	}
}

// bearer authenticates an API request's Authorization header.
func (s *Server) bearer(r *http.Request) (*Principal, error) {
	h := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return nil, &httpError{http.StatusUnauthorized, "missing token: send Authorization: Bearer TOKEN (the first admin token is in DIR/admin-token)"}
	}
	p, err := s.authenticate(r.Context(), strings.TrimSpace(secret))
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, &httpError{http.StatusUnauthorized, "unknown or revoked token"}
	}
	return p, nil
}

// authenticate is Store.Authenticate through the principal cache.
func (s *Server) authenticate(ctx context.Context, secret string) (*Principal, error) {
	if secret == "" {
		return nil, nil
	}
	h := hashToken(secret)
	if p, ok := s.cache.principal(h, s.now()); ok {
		return p, nil
	}
	p, err := s.store.Authenticate(ctx, secret)
	if err == nil && p != nil {
		s.cache.putPrincipal(h, p, s.now())
	}
	return p, err
}

type apiHandler func(w http.ResponseWriter, r *http.Request, p *Principal) error

func (s *Server) api(h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.bearer(r)
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			s.apiError(w, err)
		}
	}
}

func (s *Server) routes() {
	m := http.NewServeMux()
	s.mux = m
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.store.db.PingContext(r.Context()); err != nil {
			http.Error(w, "database: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	m.HandleFunc("GET /api/v1/whoami", s.api(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		writeJSON(w, 200, p)
		return nil
	}))
	m.HandleFunc("GET /api/v1/environments", s.api(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		envs, err := s.store.Environments(r.Context(), p.Namespace)
		if err != nil {
			return err
		}
		writeJSON(w, 200, envs)
		return nil
	}))
	m.HandleFunc("GET /api/v1/namespaces/{ns}/environments", s.api(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		ns := r.PathValue("ns")
		if !p.Sees(ns) {
			return ErrNotFound
		}
		envs, err := s.store.Environments(r.Context(), ns)
		if err != nil {
			return err
		}
		writeJSON(w, 200, envs)
		return nil
	}))
	m.HandleFunc("GET /api/v1/namespaces/{ns}/environments/{env}", s.api(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		ns, env := r.PathValue("ns"), r.PathValue("env")
		if !p.Sees(ns) {
			return ErrNotFound
		}
		vs, err := s.store.Versions(r.Context(), ns, env)
		if err != nil {
			return err
		}
		writeJSON(w, 200, map[string]any{"namespace": ns, "name": env, "versions": vs})
		return nil
	}))
	m.HandleFunc("POST /api/v1/namespaces/{ns}/environments/{env}/versions", s.api(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		var body struct {
			Filename string `json:"filename"`
			Recipe   string `json:"recipe"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
			return &httpError{http.StatusBadRequest, "request body: want JSON {\"filename\": ..., \"recipe\": ...} under 1 MiB: " + err.Error()}
		}
		v, err := s.Submit(r.Context(), p, r.PathValue("ns"), r.PathValue("env"), body.Filename, body.Recipe)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, v)
		return nil
	}))
	m.HandleFunc("GET /api/v1/namespaces/{ns}/environments/{env}/versions/{n}", s.api(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		// A finished version never changes: its JSON is served from memory.
		key := r.PathValue("ns") + "/" + r.PathValue("env") + "/" + r.PathValue("n")
		if js := s.cache.version(key); js != nil && p.Sees(r.PathValue("ns")) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(js)
			return nil
		}
		gen := s.cache.generation()
		v, err := s.versionOf(r, p)
		if err != nil {
			return err
		}
		js, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		js = append(js, '\n')
		if r.PathValue("n") != "latest" && (v.Status == StatusSucceeded || v.Status == StatusFailed) {
			s.cache.putVersion(key, js, gen)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(js)
		return nil
	}))
	m.HandleFunc("GET /api/v1/namespaces/{ns}/environments/{env}/versions/{n}/{part}", s.api(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		v, err := s.versionOf(r, p)
		if err != nil {
			return err
		}
		return s.writePart(w, r, v, r.PathValue("part"))
	}))
	m.HandleFunc("GET /api/v1/namespaces/{ns}/environments/{env}/versions/{n}/artifacts/{name}", s.api(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		v, err := s.versionOf(r, p)
		if err != nil {
			return err
		}
		return s.writeArtifact(w, r, v, r.PathValue("name"))
	}))
	m.HandleFunc("POST /api/v1/namespaces/{ns}/environments/{env}/versions/{n}/builds", s.api(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
		if err != nil || n <= 0 {
			return &httpError{http.StatusBadRequest, "version: want a number"}
		}
		id, err := s.Rebuild(r.Context(), p, r.PathValue("ns"), r.PathValue("env"), n)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, map[string]any{"build": id, "status": StatusQueued})
		return nil
	}))
	m.HandleFunc("GET /api/v1/tokens", s.api(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		if p.Role != RoleAdmin {
			return &httpError{http.StatusForbidden, "listing tokens needs an admin token"}
		}
		ts, err := s.store.Tokens(r.Context(), p.Namespace)
		if err != nil {
			return err
		}
		writeJSON(w, 200, ts)
		return nil
	}))
	m.HandleFunc("POST /api/v1/tokens", s.api(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		var body struct{ Name, Namespace, Role string }
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body); err != nil {
			return &httpError{http.StatusBadRequest, "request body: want JSON {\"name\", \"namespace\", \"role\"}: " + err.Error()}
		}
		if p.Role != RoleAdmin || !p.Sees(body.Namespace) || (body.Namespace == AllNamespaces && p.Namespace != AllNamespaces) {
			return &httpError{http.StatusForbidden, fmt.Sprintf("creating a token for namespace %s needs an admin token for it", body.Namespace)}
		}
		s.cache.forgetTokens()
		secret, t, err := s.store.CreateToken(r.Context(), p.Name, body.Name, body.Namespace, body.Role)
		if err != nil {
			return &httpError{http.StatusBadRequest, err.Error()}
		}
		writeJSON(w, http.StatusCreated, map[string]any{"token": secret, "info": t})
		return nil
	}))
	m.HandleFunc("DELETE /api/v1/tokens/{id}", s.api(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			return &httpError{http.StatusBadRequest, "token id: want a number"}
		}
		ts, err := s.store.Tokens(r.Context(), p.Namespace)
		if err != nil {
			return err
		}
		found := false
		for _, t := range ts {
			found = found || t.ID == id
		}
		if p.Role != RoleAdmin || !found {
			return &httpError{http.StatusForbidden, "revoking a token needs an admin token for its namespace"}
		}
		err = s.store.RevokeToken(r.Context(), p.Name, id)
		s.cache.forgetTokens()
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	m.HandleFunc("GET /api/v1/audit-log", s.api(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		if p.Role != RoleAdmin || p.Namespace != AllNamespaces {
			return &httpError{http.StatusForbidden, "the audit log needs an admin token for every namespace"}
		}
		es, err := s.store.AuditLog(r.Context(), 500)
		if err != nil {
			return err
		}
		writeJSON(w, 200, es)
		return nil
	}))
	s.webRoutes(m)
}

// versionOf resolves {ns}/{env}/{n} ("latest" or a number) for a principal that may see it.
func (s *Server) versionOf(r *http.Request, p *Principal) (*Version, error) {
	ns, env := r.PathValue("ns"), r.PathValue("env")
	if !p.Sees(ns) {
		return nil, ErrNotFound
	}
	var n int64
	if x := r.PathValue("n"); x != "latest" {
		var err error
		if n, err = strconv.ParseInt(x, 10, 64); err != nil || n <= 0 {
			return nil, &httpError{http.StatusBadRequest, fmt.Sprintf("version %q: want a number or latest", x)}
		}
	}
	return s.store.GetVersion(r.Context(), ns, env, n)
}

func (s *Server) previous(ctx context.Context, v *Version) (*Version, error) {
	if v.Number <= 1 {
		return nil, nil
	}
	return s.store.GetVersion(ctx, v.Namespace, v.Environment, v.Number-1)
}

func (s *Server) writePart(w http.ResponseWriter, r *http.Request, v *Version, part string) error {
	text := func(body string) error {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, err := io.WriteString(w, body)
		return err
	}
	switch part {
	case "recipe":
		return text(v.Recipe)
	case "lock":
		if v.Lock == "" {
			return &httpError{http.StatusNotFound, fmt.Sprintf("version %d has no lock (status %s)", v.Number, v.Status)}
		}
		return text(v.Lock)
	case "log":
		if len(v.Builds) == 0 {
			return ErrNotFound
		}
		data, err := os.ReadFile(s.logPath(v.Builds[len(v.Builds)-1].ID))
		if errors.Is(err, os.ErrNotExist) {
			return text("")
		}
		if err != nil {
			return err
		}
		return text(string(data))
	case "diff":
		prev, err := s.previous(r.Context(), v)
		if err != nil {
			return err
		}
		writeJSON(w, 200, DiffVersions(prev, v))
		return nil
	}
	return ErrNotFound
}

func (s *Server) writeArtifact(w http.ResponseWriter, r *http.Request, v *Version, name string) error {
	for _, a := range v.Artifacts {
		if a.Name != name {
			continue
		}
		f, err := os.Open(s.artifactPath(a.SHA256))
		if err != nil {
			return err
		}
		defer f.Close()
		ct := "application/octet-stream"
		switch {
		case strings.HasSuffix(name, ".json"):
			ct = "application/json"
		case strings.HasSuffix(name, ".md"):
			ct = "text/markdown; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fmt.Sprintf("%s-%s-v%d-%s", v.Namespace, v.Environment, v.Number, name)))
		_, err = io.Copy(w, f)
		return err
	}
	return ErrNotFound
}

func (s *Server) readArtifact(v *Version, name string) []byte {
	for _, a := range v.Artifacts {
		if a.Name == name {
			data, _ := os.ReadFile(s.artifactPath(a.SHA256))
			return data
		}
	}
	return nil
}

func readFileLimit(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// removeUnfinishedBuildDirs deletes work directories of builds that did not succeed (a
// build killed with the server leaves a partial image there), so nothing partial is
// left beside the finished ones.
func (s *Server) removeUnfinishedBuildDirs(ctx context.Context) error {
	root := filepath.Join(s.dataDir, "builds")
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		status := ""
		if id, err := strconv.ParseInt(e.Name(), 10, 64); err == nil {
			err = s.store.db.QueryRowContext(ctx, s.store.q(`SELECT status FROM builds WHERE id = ?`), id).Scan(&status)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("looking up build %d: %w", id, err)
			}
		}
		if status != StatusSucceeded {
			if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
				return fmt.Errorf("removing the unfinished build %s: %w", e.Name(), err)
			}
		}
	}
	return nil
}
