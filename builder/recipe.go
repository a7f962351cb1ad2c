package builder

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/fsutil"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/recipes"
)

// RecipeError is a recipe with errors. Its message starts with one line naming the file
// and the count, followed by every diagnostic rendered with its source lines.
type RecipeError struct {
	Path        string
	Diagnostics hcl.Diagnostics
	rendered    string
}

func (e *RecipeError) Error() string {
	n := len(e.Diagnostics.Errs())
	noun := "errors"
	if n == 1 {
		noun = "error"
	}
	return fmt.Sprintf("recipe %s has %d %s; fix them and run again:\n%s", e.Path, n, noun, e.rendered)
}

// LoadRecipe reads and validates the recipe at path (a file, or a directory holding
// reprobuild.hcl) with the given --var values. A recipe with errors gives a *RecipeError
// that carries every diagnostic, rendered with source snippets. Warnings stay in
// Recipe.Warnings (render them with RenderWarnings).
func LoadRecipe(path string, vars map[string]string) (*recipes.Recipe, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, recipes.DefaultFilename)
	}
	// The file is read once: the recipe keeps these bytes (Recipe.Source), and its
	// diagnostics are rendered from them.
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("recipe %s: %w (check the path given with -f, or create %s)", path, err, recipes.DefaultFilename)
	}
	r, diags := recipes.Parse(path, src, recipes.WithVariables(vars))
	if !diags.HasErrors() {
		if abs, err := filepath.Abs(r.Dir); err == nil {
			r.Dir = abs
		}
		return r, nil
	}
	var b bytes.Buffer
	if err := recipes.WriteDiagnostics(&b, path, src, diags, 0); err != nil {
		return nil, fmt.Errorf("recipe %s: %s", path, diags.Error())
	}
	return nil, &RecipeError{Path: path, Diagnostics: diags, rendered: b.String()}
}

// RenderWarnings renders the recipe's warnings with source snippets, or "" when there are
// none.
func RenderWarnings(r *recipes.Recipe) string {
	if len(r.Warnings) == 0 {
		return ""
	}
	var b bytes.Buffer
	_ = recipes.WriteDiagnostics(&b, r.Filename, r.Source, r.Warnings, 0)
	return b.String()
}

// LockPath is where the recipe's lock lives: reprobuild.lock beside the recipe.
func LockPath(r *recipes.Recipe) string {
	return filepath.Join(r.Dir, lock.Filename)
}

// MissingLockError says a recipe has not been locked yet.
type MissingLockError struct{ Path string }

func (e *MissingLockError) Error() string {
	return fmt.Sprintf("no lock at %s: run `reprobuild lock` first", e.Path)
}

// LoadLock reads the recipe's lock. A missing file is a *MissingLockError; a malformed one
// an error naming the file and line.
func LoadLock(r *recipes.Recipe) (*LockFile, error) {
	path := LockPath(r)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &MissingLockError{Path: path}
	}
	if err != nil {
		return nil, fmt.Errorf("reading lock: %w", err)
	}
	l, err := lock.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return l, nil
}

// WriteLock writes l beside the recipe. The write is atomic: a temporary file in the same
// directory, synced, then renamed over the old lock, so a crash never leaves half a lock.
func WriteLock(r *recipes.Recipe, l *LockFile) error {
	data, err := lock.Marshal(l)
	if err != nil {
		return err
	}
	return writeFileAtomic(LockPath(r), data)
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	_, _ = fsutil.CleanStale(dir, "."+filepath.Base(path)+".tmp-*") // left by killed runs
	t, err := fsutil.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer t.Release()
	tmp := t.File
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// NewLock returns a lock for r with everything the recipe itself decides filled in:
// format version, recipe hash, channels (names and URLs as written; mirrors are a
// build-time choice), solver settings, base reference and digest, data sources. The
// solver fills Targets.
func NewLock(r *recipes.Recipe) *LockFile {
	l := &lock.Lock{
		Version:    lock.FormatVersion,
		RecipeHash: r.Hash(),
		Solver:     lock.Solver{ChannelPriority: r.Solver.ChannelPriority, ExcludeNewer: r.Solver.ExcludeNewer},
		Base:       SplitBase(r.Image.Base),
	}
	for _, c := range r.Channels {
		l.Channels = append(l.Channels, lock.Channel{Name: c.Name, URL: c.URL})
	}
	for _, d := range r.Data {
		l.Data = append(l.Data, lock.Data{Name: d.Name, URL: d.URL, SHA256: d.SHA256, Path: d.Path, Mode: d.Mode})
	}
	return l
}

// SplitBase splits a recipe base ("scratch", "REF@sha256:HEX", "oci:PATH@sha256:HEX", or an
// unpinned "REF") into the lock's reference and digest.
func SplitBase(base string) LockBase {
	if i := strings.LastIndex(base, "@sha256:"); i >= 0 {
		return lock.Base{Ref: base[:i], Digest: base[i+1:]}
	}
	return lock.Base{Ref: base}
}

// CheckLock reports whether l is still the lock of r (`reprobuild lock --check`): nil,
// or a *lock.StaleError listing every reason. Beyond lock.Check it compares what the
// recipe decides directly (channels, solver settings, base, data) with what the lock
// records, which catches a hand-edited lock whose recipe hash still matches.
func CheckLock(r *recipes.Recipe, l *LockFile) error {
	var reasons []string
	hashOK := l.RecipeHash == r.Hash()
	if err := lock.Check(l, LockWant(r)); err != nil {
		var se *lock.StaleError
		if !errors.As(err, &se) {
			return err
		}
		reasons = append(reasons, se.Reasons...)
	}
	if hashOK {
		want := NewLock(r)
		if !slices.Equal(want.Channels, l.Channels) {
			reasons = append(reasons, fmt.Sprintf("the lock's channels %v are not the recipe's %v", l.Channels, want.Channels))
		}
		if want.Solver != l.Solver {
			reasons = append(reasons, fmt.Sprintf("the lock's solver settings %+v are not the recipe's %+v", l.Solver, want.Solver))
		}
		// An unpinned base is pinned when locking, so only a pinned one must match exactly.
		if l.Base.Ref != want.Base.Ref || (want.Base.Digest != "" && l.Base.Digest != want.Base.Digest) {
			reasons = append(reasons, fmt.Sprintf("the lock's base %s %s is not the recipe's %s", l.Base.Ref, l.Base.Digest, r.Image.Base))
		}
		byName := func(a, b lock.Data) int { return strings.Compare(a.Name, b.Name) }
		wd, ld := slices.Clone(want.Data), slices.Clone(l.Data)
		slices.SortFunc(wd, byName)
		slices.SortFunc(ld, byName)
		if !slices.Equal(wd, ld) {
			reasons = append(reasons, "the lock's data sources are not the recipe's")
		}
	}
	if len(reasons) > 0 {
		return &lock.StaleError{Reasons: reasons}
	}
	return nil
}

// VirtualPackages are the virtual packages a target of r offers the solver: glibc and
// CUDA from the recipe, conda's defaults otherwise. hardware.cpu applies to the targets
// of its own family ("x86_64_v3" or "zen3" to linux-64, "neoverse_v1" to
// linux-aarch64); the other targets keep their generic microarchitecture.
func VirtualPackages(r *recipes.Recipe, platform string) ([]PackageRecord, error) {
	p, err := conda.ParsePlatform(platform)
	if err != nil {
		return nil, err
	}
	spec := conda.VirtualSpec{Platform: p, Glibc: r.Platform.Glibc, Cuda: r.Hardware.Cuda}
	if cpu := r.Hardware.CPU; cpu != "" {
		if fam, ok := conda.ArchspecFamily(cpu); ok && fam == p.ArchFamily() {
			spec.Archspec = cpu
		}
	}
	return conda.VirtualPackages(spec), nil
}

// LockVirtual turns virtual package records into the lock's form.
func LockVirtual(recs []PackageRecord) []VirtualPackage {
	out := make([]lock.VirtualPackage, 0, len(recs))
	for _, v := range recs {
		out = append(out, lock.VirtualPackage{Name: v.Name, Version: v.Version, Build: v.Build})
	}
	return out
}
