package builder

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

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

// LoadRecipe reads and validates the recipe at path with the given --var values. A recipe
// with errors gives a *RecipeError that carries every diagnostic, rendered with source
// snippets. Warnings stay in Recipe.Warnings (render them with RenderWarnings).
func LoadRecipe(path string, vars map[string]string) (*recipes.Recipe, error) {
	r, diags := recipes.ParseFile(path, recipes.WithVariables(vars))
	if !diags.HasErrors() {
		return r, nil
	}
	src, _ := os.ReadFile(path)
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
	src, _ := os.ReadFile(r.Filename)
	var b bytes.Buffer
	_ = recipes.WriteDiagnostics(&b, r.Filename, src, r.Warnings, 0)
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
func LoadLock(r *recipes.Recipe) (*lock.Lock, error) {
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
func WriteLock(r *recipes.Recipe, l *lock.Lock) error {
	data, err := lock.Marshal(l)
	if err != nil {
		return err
	}
	return writeFileAtomic(LockPath(r), data)
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
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
func NewLock(r *recipes.Recipe) *lock.Lock {
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
func SplitBase(base string) lock.Base {
	if i := strings.LastIndex(base, "@sha256:"); i >= 0 {
		return lock.Base{Ref: base[:i], Digest: base[i+1:]}
	}
	return lock.Base{Ref: base}
}

// CheckLock reports whether l is still the lock of r (`reprobuild lock --check`): nil,
// or a *lock.StaleError listing every reason.
func CheckLock(r *recipes.Recipe, l *lock.Lock) error {
	return lock.Check(l, lock.Want{RecipeHash: r.Hash(), Targets: r.Targets()})
}
