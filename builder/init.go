package builder

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/recipes"
)

// Input formats Init recognises.
const (
	InitFromEnvironment = "environment.yml"
	InitFromExplicit    = "@EXPLICIT"
	InitFromCondaLock   = "conda-lock.yml"
	InitFromPixi        = "pixi.lock"
)

// InitOptions say what to convert and where to write.
type InitOptions struct {
	// From is an environment.yml, an @EXPLICIT file, a conda-lock.yml or a pixi.lock
	// (format 6); the format is detected from the content.
	From string
	// OutDir receives reprobuild.hcl (and reprobuild.lock); "" means the current
	// directory.
	OutDir string
	// Force overwrites an existing recipe or lock.
	Force bool
	// Environment is the pixi.lock environment to import ("" is "default").
	Environment string
}

// InitResult is what Init wrote.
type InitResult struct {
	Format     string
	RecipePath string
	// LockPath is "" when no lock was written (environment.yml input).
	LockPath string
	// Warnings are things the user should know: dropped pip requirements, packages
	// without sha256, channels that could not be carried over.
	Warnings []string
}

// Init writes a recipe converted from an existing environment description. From an
// @EXPLICIT file or a conda-lock.yml it also writes a lock that keeps exactly those
// packages (same URLs and hashes), with the new recipe's hash so it is not stale.
func Init(opts InitOptions) (*InitResult, error) {
	data, err := os.ReadFile(opts.From)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	outDir := opts.OutDir
	if outDir == "" {
		outDir = "."
	}
	res := &InitResult{RecipePath: filepath.Join(outDir, recipes.DefaultFilename)}
	var src []byte
	var l *lock.Lock
	switch res.Format = detectFormat(data); res.Format {
	case InitFromExplicit, InitFromCondaLock, InitFromPixi:
		switch res.Format {
		case InitFromExplicit:
			l, err = lock.ImportExplicit(data)
		case InitFromPixi:
			l, err = lock.ImportPixi(data, opts.Environment)
		default:
			l, err = lock.ImportCondaLock(data)
		}
		if err != nil {
			return nil, fmt.Errorf("init: reading %s: %w", opts.From, err)
		}
		src, err = recipeFromLock(l, opts.From, res)
	default:
		var env *lock.Environment
		env, err = lock.ParseEnvironment(data)
		if err != nil {
			return nil, fmt.Errorf("init: reading %s: %w (give an environment.yml, an @EXPLICIT file or a conda-lock.yml)", opts.From, err)
		}
		if len(env.Conda) == 0 && len(env.Pip) == 0 {
			return nil, fmt.Errorf("init: %s has no dependencies: it is not an environment.yml, @EXPLICIT file or conda-lock.yml reprobuild can convert", opts.From)
		}
		src, err = recipeFromEnvironment(env, opts.From, res)
	}
	if err != nil {
		return nil, err
	}

	// The generated recipe must be valid: decode it as any recipe would be.
	r, diags := recipes.Parse(res.RecipePath, src)
	if diags.HasErrors() {
		return nil, fmt.Errorf("init: the recipe converted from %s is not valid; fix the input and retry:\n%s", opts.From, recipes.FormatDiagnostics(res.RecipePath, src, diags))
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	if err := refuseOverwrite(res.RecipePath, opts.Force); err != nil {
		return nil, err
	}
	if l != nil {
		r.Dir = outDir
		res.LockPath = LockPath(r)
		if err := refuseOverwrite(res.LockPath, opts.Force); err != nil {
			return nil, err
		}
		// What the recipe decides comes from the recipe; the packages from the input.
		fresh := NewLock(r)
		fresh.Targets = l.Targets
		l = fresh
		noSHA := 0
		for _, t := range l.Targets {
			for _, p := range t.Packages {
				if p.SHA256 == "" {
					noSHA++
				}
			}
		}
		if noSHA > 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%d locked packages have no sha256 (the input gave only md5 or nothing); `reprobuild lock` can fill them from the channel", noSHA))
		}
	}
	if err := writeFileAtomic(res.RecipePath, src); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	if l != nil {
		if err := WriteLock(r, l); err != nil {
			return nil, fmt.Errorf("init: %w", err)
		}
	}
	return res, nil
}

func refuseOverwrite(path string, force bool) error {
	if force {
		return nil
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("init: %s already exists; pass --force to overwrite it", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("init: %w", err)
	}
	return nil
}

var (
	explicitLineRe  = regexp.MustCompile(`(?m)^\s*@EXPLICIT\s*$`)
	condaLockKeysRe = regexp.MustCompile(`(?m)^(package|metadata|environments):`)
	pixiKeysRe      = regexp.MustCompile(`(?m)^environments:`)
)

func detectFormat(data []byte) string {
	switch {
	case explicitLineRe.Match(data):
		return InitFromExplicit
	case pixiKeysRe.Match(data):
		return InitFromPixi
	case condaLockKeysRe.Match(data):
		return InitFromCondaLock
	default:
		return InitFromEnvironment
	}
}

// recipeWriter builds the recipe text with hclwrite, so quoting and layout are HCL's.
type recipeWriter struct {
	f    *hclwrite.File
	body *hclwrite.Body
}

func newRecipeWriter(from string) *recipeWriter {
	f := hclwrite.NewEmptyFile()
	w := &recipeWriter{f: f, body: f.Body()}
	w.comment(fmt.Sprintf("Written by `reprobuild init --from %s`. Review it, then run `reprobuild lock`.", filepath.Base(from)))
	return w
}

func (w *recipeWriter) comment(text string) {
	w.body.AppendUnstructuredTokens(hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte("# " + text + "\n")}})
}

func (w *recipeWriter) block(typ string, labels ...string) *hclwrite.Body {
	w.body.AppendNewline()
	return w.body.AppendNewBlock(typ, labels).Body()
}

func strList(xs []string) cty.Value {
	if len(xs) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(xs))
	for i, x := range xs {
		vals[i] = cty.StringVal(x)
	}
	return cty.ListVal(vals)
}

// channelRef resolves an environment.yml channel entry to named channel URLs.
func channelRef(c string) ([][2]string, error) {
	switch {
	case c == "nodefaults":
		return nil, nil
	case strings.Contains(c, "${") || strings.Contains(c, "$"):
		return nil, fmt.Errorf("channel %q uses an environment variable; add its URL to the recipe by hand", c)
	case c == "defaults":
		// conda's "defaults" is these two channels on Linux.
		return [][2]string{{"main", "https://repo.anaconda.com/pkgs/main"}, {"r", "https://repo.anaconda.com/pkgs/r"}}, nil
	case strings.Contains(c, "://"):
		u := strings.TrimRight(c, "/")
		return [][2]string{{channelLabel(u), u}}, nil
	default:
		name := strings.Trim(c, "/")
		return [][2]string{{path.Base(name), "https://conda.anaconda.org/" + name}}, nil
	}
}

func channelLabel(u string) string {
	pu, err := url.Parse(u)
	if err != nil || pu.Path == "" || pu.Path == "/" {
		return "channel"
	}
	return path.Base(pu.Path)
}

// writeChannels adds channel blocks in order, making labels unique.
func (w *recipeWriter) writeChannels(chs [][2]string) {
	used := map[string]bool{}
	seenURL := map[string]bool{}
	for _, c := range chs {
		if seenURL[c[1]] {
			continue
		}
		seenURL[c[1]] = true
		label := c[0]
		for i := 2; used[label]; i++ {
			label = fmt.Sprintf("%s-%d", c[0], i)
		}
		used[label] = true
		w.block("channel", label).SetAttributeValue("url", cty.StringVal(c[1]))
	}
}

var simpleVersionRe = regexp.MustCompile(`^([0-9]+\.[0-9]+(?:\.[0-9]+)?)(\.\*|\*)?$`)

// convertSpec turns conda's environment.yml spec forms ("numpy=1.26", "numpy=1.26.4=py_0",
// "numpy==1.26") into the space-separated form a recipe uses.
func convertSpec(s string) string {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, "=<>!~ ")
	if i < 0 {
		return s
	}
	name, rest := s[:i], strings.TrimSpace(s[i:])
	if strings.HasPrefix(rest, "=") && !strings.HasPrefix(rest, "==") {
		parts := strings.SplitN(rest[1:], "=", 2)
		ver := parts[0]
		if len(parts) == 2 {
			return name + " " + ver + " " + parts[1]
		}
		// conda reads "name=1.26" as 1.26.*.
		if !strings.ContainsAny(ver, "*<>=!,|") {
			ver += ".*"
		}
		return name + " " + ver
	}
	return name + " " + rest
}

func recipeFromEnvironment(env *lock.Environment, from string, res *InitResult) ([]byte, error) {
	w := newRecipeWriter(from)
	if env.Name != "" {
		w.block("image", env.Name)
	}
	var specs []string
	pyVersion := ""
	for _, s := range env.Conda {
		spec := convertSpec(s)
		if name, rest, _ := strings.Cut(spec, " "); name == "python" && pyVersion == "" {
			if m := simpleVersionRe.FindStringSubmatch(rest); m != nil {
				pyVersion = m[1]
				continue
			}
		}
		specs = append(specs, spec)
	}
	if pyVersion != "" {
		w.block("python").SetAttributeValue("version", cty.StringVal(pyVersion))
	}
	var chs [][2]string
	for _, c := range env.Channels {
		refs, err := channelRef(c)
		if err != nil {
			res.Warnings = append(res.Warnings, err.Error())
			continue
		}
		chs = append(chs, refs...)
	}
	if len(chs) == 0 {
		res.Warnings = append(res.Warnings, "the environment names no usable channel; the recipe uses conda-forge")
		chs = [][2]string{{"conda-forge", "https://conda.anaconda.org/conda-forge"}}
	}
	w.writeChannels(chs)
	deps := w.block("dependencies")
	deps.SetAttributeValue("conda", strList(specs))
	if len(env.Pip) > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d pip requirements were left out (reprobuild cannot install pip packages yet): %s", len(env.Pip), strings.Join(env.Pip, ", ")))
		w.body.AppendNewline()
		w.comment("pip requirements from " + filepath.Base(from) + " (not supported yet): " + strings.Join(env.Pip, ", "))
	}
	if len(env.Platforms) > 0 {
		w.block("platform").SetAttributeValue("targets", strList(env.Platforms))
	}
	return w.f.Bytes(), nil
}

func recipeFromLock(l *lock.Lock, from string, res *InitResult) ([]byte, error) {
	w := newRecipeWriter(from)
	w.comment("The lock beside it keeps the exact packages of the input; dependencies pin their versions.")
	// Every target must be a platform reprobuild can build for.
	var targets []string
	for _, t := range l.Targets {
		if _, err := conda.ParsePlatform(t.Platform); err != nil {
			return nil, fmt.Errorf("init: %s: %w", from, err)
		}
		targets = append(targets, t.Platform)
	}
	// A dependency is pinned to a version when every target locks the same one.
	versions := map[string]map[string]bool{}
	depended := map[string]bool{}
	hasDepends := false
	for _, t := range l.Targets {
		for _, p := range t.Packages {
			if versions[p.Name] == nil {
				versions[p.Name] = map[string]bool{}
			}
			versions[p.Name][p.Version] = true
			for _, d := range p.Depends {
				hasDepends = true
				name, _, _ := strings.Cut(strings.TrimSpace(d), " ")
				depended[name] = true
			}
		}
		if len(t.Pip) > 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: %d pip packages are kept in the lock, but reprobuild cannot install them yet", t.Platform, len(t.Pip)))
		}
	}
	names := make([]string, 0, len(versions))
	for n := range versions {
		names = append(names, n)
	}
	slices.Sort(names)
	pyVersion := ""
	var specs []string
	for _, n := range names {
		vs := versions[n]
		if n == "python" && len(vs) == 1 {
			for v := range vs {
				if parts := strings.SplitN(v, ".", 3); len(parts) >= 2 {
					pyVersion = parts[0] + "." + parts[1]
				}
			}
			if pyVersion != "" {
				continue
			}
		}
		// With dependency information, only the roots (what nothing else needs) go in
		// the recipe; without it (an explicit file), every package does.
		if hasDepends && depended[n] {
			continue
		}
		spec := n
		if len(vs) == 1 {
			for v := range vs {
				spec += " ==" + v
			}
		}
		specs = append(specs, spec)
	}
	if pyVersion != "" {
		w.block("python").SetAttributeValue("version", cty.StringVal(pyVersion))
	}
	var chs [][2]string
	for _, c := range l.Channels {
		chs = append(chs, [2]string{c.Name, c.URL})
	}
	w.writeChannels(chs)
	w.block("dependencies").SetAttributeValue("conda", strList(specs))
	w.block("platform").SetAttributeValue("targets", strList(targets))
	return w.f.Bytes(), nil
}

// Summary is a one-line description of what Init wrote.
func (r *InitResult) Summary() string {
	s := "wrote " + r.RecipePath
	if r.LockPath != "" {
		s += " and " + r.LockPath
	}
	return s + " from " + r.Format
}
