package catalog

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

//go:embed web
var webFS embed.FS

type templates struct {
	pages map[string]*template.Template
}

func parseTemplates() (*templates, error) {
	funcs := template.FuncMap{
		"short": func(d string) string {
			if len(d) > 19 {
				return d[:19] + "…"
			}
			return d
		},
		"terminal": func(status string) bool { return status == StatusSucceeded || status == StatusFailed },
		"seconds":  func(ms int64) string { return fmt.Sprintf("%.1f s", float64(ms)/1000) },
		"sub1":     func(n int64) int64 { return n - 1 },
	}
	t := &templates{pages: map[string]*template.Template{}}
	names, err := fs.Glob(webFS, "web/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if strings.HasSuffix(n, "/layout.html") {
			continue
		}
		p, err := template.New("layout.html").Funcs(funcs).ParseFS(webFS, "web/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("catalog template %s: %w", n, err)
		}
		t.pages[strings.TrimSuffix(strings.TrimPrefix(n, "web/"), ".html")] = p
	}
	return t, nil
}

const cookieName = "reprobuild_token"

// page is what every template gets.
type page struct {
	Title string
	User  *Principal
	Data  any
}

func (s *Server) render(w http.ResponseWriter, code int, name string, p page) {
	var b bytes.Buffer
	if err := s.tmpl.pages[name].Execute(&b, p); err != nil {
		s.logf("rendering %s: %v", name, err)
		http.Error(w, "rendering page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

type webHandler func(w http.ResponseWriter, r *http.Request, p *Principal) error

// web authenticates a page request by its cookie; without one it sends the browser to
// the sign-in page.
func (s *Server) web(h webHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var p *Principal
		var err error
		if c, cerr := r.Cookie(cookieName); cerr == nil {
			p, err = s.authenticate(r.Context(), c.Value)
		}
		if err == nil && p == nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			s.webError(w, p, err)
		}
	}
}

func (s *Server) webError(w http.ResponseWriter, p *Principal, err error) {
	code := http.StatusInternalServerError
	var he *httpError
	switch {
	case errors.As(err, &he):
		code = he.code
	case errors.Is(err, ErrNotFound):
		code, err = http.StatusNotFound, errors.New("not found (or not visible to your token)")
	default:
		s.logf("internal error: %v", err)
	}
	s.render(w, code, "error", page{Title: http.StatusText(code), User: p, Data: err.Error()})
}

func (s *Server) webRoutes(m *http.ServeMux) {
	static, _ := fs.Sub(webFS, "web/static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		s.render(w, 200, "login", page{Title: "Sign in"})
	})
	m.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		secret := strings.TrimSpace(r.PostFormValue("token"))
		p, err := s.store.Authenticate(r.Context(), secret)
		if err != nil || p == nil {
			s.render(w, http.StatusUnauthorized, "login", page{Title: "Sign in", Data: "Unknown or revoked token."})
			return
		}
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: secret, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	m.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	m.HandleFunc("GET /{$}", s.web(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		envs, err := s.store.Environments(r.Context(), p.Namespace)
		if err != nil {
			return err
		}
		s.render(w, 200, "index", page{Title: "Environments", User: p, Data: map[string]any{"Count": len(envs), "Rows": envRows(envs)}})
		return nil
	}))
	m.HandleFunc("GET /submit", s.web(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		f := submitForm{Namespace: r.URL.Query().Get("ns"), Environment: r.URL.Query().Get("env"), Filename: "reprobuild.hcl", Policy: s.opts.Policy}
		if f.Namespace == "" && p.Namespace != AllNamespaces {
			f.Namespace = p.Namespace
		}
		if f.Namespace != "" && f.Environment != "" {
			if v, err := s.store.GetVersion(r.Context(), f.Namespace, f.Environment, 0); err == nil && p.Sees(f.Namespace) {
				f.Recipe, f.Filename = v.Recipe, v.Filename
			}
		}
		s.render(w, 200, "submit", page{Title: "Submit a recipe", User: p, Data: f})
		return nil
	}))
	m.HandleFunc("POST /submit", s.web(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		f := submitForm{Namespace: r.PostFormValue("namespace"), Environment: r.PostFormValue("environment"), Filename: r.PostFormValue("filename"), Recipe: strings.ReplaceAll(r.PostFormValue("recipe"), "\r\n", "\n"), Policy: s.opts.Policy}
		v, err := s.Submit(r.Context(), p, f.Namespace, f.Environment, f.Filename, f.Recipe)
		var re *RecipeError
		var he *httpError
		switch {
		case errors.As(err, &re):
			f.Error = re
			s.render(w, http.StatusUnprocessableEntity, "submit", page{Title: "Submit a recipe", User: p, Data: f})
			return nil
		case errors.As(err, &he):
			f.Error = &RecipeError{Message: he.msg}
			s.render(w, he.code, "submit", page{Title: "Submit a recipe", User: p, Data: f})
			return nil
		case err != nil:
			return err
		}
		http.Redirect(w, r, fmt.Sprintf("/ns/%s/%s/%d", v.Namespace, v.Environment, v.Number), http.StatusSeeOther)
		return nil
	}))
	m.HandleFunc("GET /ns/{ns}/{env}", s.web(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		ns, env := r.PathValue("ns"), r.PathValue("env")
		if !p.Sees(ns) {
			return ErrNotFound
		}
		vs, err := s.store.Versions(r.Context(), ns, env)
		if err != nil {
			return err
		}
		s.render(w, 200, "environment", page{Title: ns + "/" + env, User: p, Data: map[string]any{"Namespace": ns, "Name": env, "Versions": vs, "CanSubmit": p.Can(RoleEditor, ns)}})
		return nil
	}))
	m.HandleFunc("GET /ns/{ns}/{env}/{n}", s.web(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		v, err := s.versionOf(r, p)
		if err != nil {
			return err
		}
		s.render(w, 200, "version", page{Title: fmt.Sprintf("%s/%s version %d", v.Namespace, v.Environment, v.Number), User: p, Data: s.versionView(r, p, v)})
		return nil
	}))
	m.HandleFunc("GET /ns/{ns}/{env}/{n}/status.json", s.web(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		v, err := s.versionOf(r, p)
		if err != nil {
			return err
		}
		var log string
		if len(v.Builds) > 0 {
			data, _ := readFileLimit(s.logPath(v.Builds[len(v.Builds)-1].ID), 1<<20)
			log = string(data)
		}
		writeJSON(w, 200, map[string]string{"status": v.Status, "log": log})
		return nil
	}))
	m.HandleFunc("GET /ns/{ns}/{env}/{n}/diff", s.web(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		v, err := s.versionOf(r, p)
		if err != nil {
			return err
		}
		prev, err := s.previous(r.Context(), v)
		if err != nil {
			return err
		}
		s.render(w, 200, "diff", page{Title: fmt.Sprintf("%s/%s: changes in version %d", v.Namespace, v.Environment, v.Number), User: p, Data: map[string]any{"V": v, "D": DiffVersions(prev, v)}})
		return nil
	}))
	m.HandleFunc("GET /ns/{ns}/{env}/{n}/files/{name}", s.web(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		v, err := s.versionOf(r, p)
		if err != nil {
			return err
		}
		return s.writeArtifact(w, r, v, r.PathValue("name"))
	}))
	m.HandleFunc("GET /ns/{ns}/{env}/{n}/{part}", s.web(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		v, err := s.versionOf(r, p)
		if err != nil {
			return err
		}
		switch part := r.PathValue("part"); part {
		case "recipe", "lock", "log":
			return s.writePart(w, r, v, part)
		}
		return ErrNotFound
	}))
	m.HandleFunc("POST /ns/{ns}/{env}/{n}/rebuild", s.web(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
		if err != nil || n <= 0 {
			return ErrNotFound
		}
		if _, err := s.Rebuild(r.Context(), p, r.PathValue("ns"), r.PathValue("env"), n); err != nil {
			return err
		}
		http.Redirect(w, r, fmt.Sprintf("/ns/%s/%s/%d", r.PathValue("ns"), r.PathValue("env"), n), http.StatusSeeOther)
		return nil
	}))
	m.HandleFunc("GET /admin/audit-log", s.web(func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		if p.Role != RoleAdmin || p.Namespace != AllNamespaces {
			return &httpError{http.StatusForbidden, "the audit log is shown to admins of every namespace"}
		}
		es, err := s.store.AuditLog(r.Context(), 500)
		if err != nil {
			return err
		}
		s.render(w, 200, "audit", page{Title: "Audit log", User: p, Data: es})
		return nil
	}))
}

// envRows renders the environment table's rows. The list can hold thousands of rows, and
// building them here with explicit escaping is several times cheaper than a template
// range with html/template's contextual escaping of every field.
func envRows(envs []Environment) template.HTML {
	var b strings.Builder
	b.Grow(len(envs) * 400)
	esc := template.HTMLEscapeString
	for _, e := range envs {
		ns, name := esc(url.PathEscape(e.Namespace)), esc(url.PathEscape(e.Name))
		digest := e.Digest
		if len(digest) > 19 {
			digest = digest[:19] + "…"
		}
		fmt.Fprintf(&b, `<tr><td>%s</td><td><a href="/ns/%s/%s">%s</a></td><td><a href="/ns/%s/%s/%d">v%d</a></td><td><span class="status s-%s">%s</span></td><td><code>%s</code></td><td>%s</td></tr>`+"\n",
			esc(e.Namespace), ns, name, esc(e.Name), ns, name, e.Latest, e.Latest, esc(e.Status), esc(e.Status), esc(digest), esc(e.UpdatedAt))
	}
	return template.HTML(b.String())
}

type submitForm struct {
	Namespace, Environment, Filename, Recipe string
	Error                                    *RecipeError
	// Policy is what the server allows, shown beside the form.
	Policy Policy
}

// RecordRow is one row of the runtime record table.
type RecordRow struct{ Key, Value string }

// RecordTable is one platform's runtime record as rows.
type RecordTable struct {
	Name string
	Rows []RecordRow
}

type versionView struct {
	*Version
	Build     Build
	Log       string
	Records   []RecordTable
	SBOMs     []Artifact
	Others    []Artifact
	Reproduce template.HTML
	Lines     []string
	Previous  bool
	CanBuild  bool
	// Runs are the builds with whether each gave the first successful build's digest.
	Runs []buildRun
}

type buildRun struct {
	Build
	N          int
	Reproduced bool
	Compared   bool
}

func (s *Server) versionView(r *http.Request, p *Principal, v *Version) versionView {
	vv := versionView{Version: v, Previous: v.Number > 1}
	first := ""
	for i, b := range v.Builds {
		run := buildRun{Build: b, N: i + 1}
		if b.Status == StatusSucceeded {
			if first == "" {
				first = b.Digest
			} else {
				run.Compared, run.Reproduced = true, b.Digest == first
			}
		}
		vv.Runs = append(vv.Runs, run)
	}
	if len(v.Builds) > 0 {
		vv.Build = v.Builds[len(v.Builds)-1]
		data, _ := readFileLimit(s.logPath(vv.Build.ID), 1<<20)
		vv.Log = string(data)
	}
	for _, a := range v.Artifacts {
		switch {
		case strings.HasPrefix(a.Name, "runtime-") && strings.HasSuffix(a.Name, ".json"):
			vv.Records = append(vv.Records, RecordTable{Name: a.Name, Rows: flattenJSON(s.readArtifact(v, a.Name))})
			vv.Others = append(vv.Others, a)
		case strings.Contains(a.Name, "sbom"):
			vv.SBOMs = append(vv.SBOMs, a)
		case a.Name == "REPRODUCE.md":
			vv.Reproduce = renderMarkdown(string(s.readArtifact(v, a.Name)))
			vv.Others = append(vv.Others, a)
		default:
			vv.Others = append(vv.Others, a)
		}
	}
	vv.CanBuild = p.Can(RoleEditor, v.Namespace) && (v.Status == StatusSucceeded || v.Status == StatusFailed)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := fmt.Sprintf("%s://%s", scheme, r.Host)
	vv.Lines = []string{
		fmt.Sprintf("reprobuild pull %s/%s/%s@%d -o %s-v%d", base, v.Namespace, v.Environment, v.Number, v.Environment, v.Number),
		fmt.Sprintf("reprobuild image -f %s-v%d/reprobuild.hcl --frozen --output oci:%s-v%d.oci", v.Environment, v.Number, v.Environment, v.Number),
		fmt.Sprintf("reprobuild run -f %s-v%d/reprobuild.hcl", v.Environment, v.Number),
	}
	if s.opts.Registry != "" && vv.Build.Digest != "" {
		ref := fmt.Sprintf("%s/%s/%s@%s", strings.TrimSuffix(s.opts.Registry, "/"), v.Namespace, v.Environment, vv.Build.Digest)
		vv.Lines = append(vv.Lines, "reprobuild launch --to kubernetes --image "+ref, "reprobuild launch --to slurm --image "+ref)
	}
	return vv
}

// flattenJSON turns a JSON document into sorted key/value rows ("a.b[0]" = value).
func flattenJSON(data []byte) []RecordRow {
	var x any
	if json.Unmarshal(data, &x) != nil {
		return nil
	}
	var rows []RecordRow
	var walk func(prefix string, x any)
	walk = func(prefix string, x any) {
		switch t := x.(type) {
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, t[k])
			}
		case []any:
			scalar := true
			for _, e := range t {
				switch e.(type) {
				case map[string]any, []any:
					scalar = false
				}
			}
			if scalar {
				parts := make([]string, len(t))
				for i, e := range t {
					parts[i] = fmt.Sprint(e)
				}
				rows = append(rows, RecordRow{prefix, strings.Join(parts, ", ")})
				return
			}
			for i, e := range t {
				walk(fmt.Sprintf("%s[%d]", prefix, i), e)
			}
		case nil:
		default:
			rows = append(rows, RecordRow{prefix, fmt.Sprint(t)})
		}
	}
	walk("", x)
	return rows
}

// renderMarkdown renders the small Markdown subset REPRODUCE.md uses: headings, fenced
// code, lists, tables, paragraphs, **bold** and `code`. Text is escaped first.
func renderMarkdown(md string) template.HTML {
	var b strings.Builder
	inCode, inList := false, false
	var table [][]string
	flush := func() {
		if inList {
			b.WriteString("</ul>\n")
			inList = false
		}
		if table != nil {
			b.WriteString("<table>\n")
			for i, row := range table {
				cell := "td"
				if i == 0 {
					cell = "th scope=\"col\""
				}
				b.WriteString("<tr>")
				for _, c := range row {
					fmt.Fprintf(&b, "<%s>%s</%s>", cell, mdInline(c), strings.Fields(cell)[0])
				}
				b.WriteString("</tr>\n")
			}
			b.WriteString("</table>\n")
			table = nil
		}
	}
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "```") {
			if inCode {
				b.WriteString("</code></pre>\n")
			} else {
				flush()
				b.WriteString("<pre><code>")
			}
			inCode = !inCode
			continue
		}
		if inCode {
			b.WriteString(template.HTMLEscapeString(line) + "\n")
			continue
		}
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "|"):
			if inList {
				b.WriteString("</ul>\n")
				inList = false
			}
			cells := strings.Split(strings.Trim(t, "|"), "|")
			sep := true
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
				if strings.Trim(cells[i], "-: ") != "" {
					sep = false
				}
			}
			if !sep {
				table = append(table, cells)
			}
		case t == "":
			flush()
		case strings.HasPrefix(t, "#"):
			flush()
			lvl := len(t) - len(strings.TrimLeft(t, "#"))
			lvl = min(lvl+2, 6) // the page's own h1 and h2 come first
			fmt.Fprintf(&b, "<h%d>%s</h%d>\n", lvl, mdInline(strings.TrimSpace(strings.TrimLeft(t, "#"))), lvl)
		case strings.HasPrefix(t, "- "), strings.HasPrefix(t, "* "):
			if table != nil {
				flush()
			}
			if !inList {
				b.WriteString("<ul>\n")
				inList = true
			}
			b.WriteString("<li>" + mdInline(t[2:]) + "</li>\n")
		default:
			flush()
			b.WriteString("<p>" + mdInline(t) + "</p>\n")
		}
	}
	if inCode {
		b.WriteString("</code></pre>\n")
	}
	flush()
	return template.HTML(b.String())
}

// mdInline escapes s and renders `code` and **bold** spans (an unmatched marker stays
// as text).
func mdInline(s string) string {
	parts := strings.Split(s, "`")
	var b strings.Builder
	for i, p := range parts {
		switch {
		case i%2 == 1 && i < len(parts)-1:
			b.WriteString("<code>" + template.HTMLEscapeString(p) + "</code>")
		case i%2 == 1:
			b.WriteString("`" + bold(template.HTMLEscapeString(p)))
		default:
			b.WriteString(bold(template.HTMLEscapeString(p)))
		}
	}
	return b.String()
}

func bold(s string) string {
	parts := strings.Split(s, "**")
	if len(parts) < 3 {
		return s
	}
	var b strings.Builder
	for i, p := range parts {
		switch {
		case i%2 == 1 && i < len(parts)-1:
			b.WriteString("<strong>" + p + "</strong>")
		case i%2 == 1:
			b.WriteString("**" + p)
		default:
			b.WriteString(p)
		}
	}
	return b.String()
}
