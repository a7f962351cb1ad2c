package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// Clobber reports a path installed by two packages. The package later in install order
// wins: its entry is kept and the earlier one's is dropped from its tree (conda also
// leaves the last linked file in place).
type Clobber struct {
	Path   string // relative to the image root
	Winner string // file name of the package whose entry is kept
	Loser  string // file name of the package whose entry is dropped
}

// LinkAll links ps, in install order, and merges them: clobbered paths are resolved by
// the rule on Clobber and reported in order of path within install order. A file or
// symlink where another package needs a directory is a *ConflictError. Packages are
// extracted in parallel; the result depends only on ps and o.
func LinkAll(ctx context.Context, ps []Package, o Options) ([]*PackageTree, []Clobber, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, nil, err
	}
	if o.PythonVersion == "" {
		for _, p := range ps {
			if p.Record.Name == "python" {
				o.PythonVersion = majorMinor(p.Record.Version)
				break
			}
		}
	}
	trees := make([]*PackageTree, len(ps))
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range ps {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			trees[i], errs[i] = link(ctx, ps[i], o)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, e := range errs {
			if e != nil {
				return nil, nil, e // the first failing package in install order
			}
		}
	}

	type owner struct{ tree, entry int }
	owners := map[string]owner{}
	drop := make([]map[int]bool, len(trees))
	var clobbers []Clobber
	for ti, t := range trees {
		drop[ti] = map[int]bool{}
		for ei, e := range t.Entries {
			prev, ok := owners[e.Path]
			if !ok {
				owners[e.Path] = owner{ti, ei}
				continue
			}
			pe := trees[prev.tree].Entries[prev.entry]
			if pe.Type == TypeDir && e.Type == TypeDir {
				continue
			}
			if pe.Type == TypeDir || e.Type == TypeDir {
				return nil, nil, &ConflictError{Path: e.Path, Packages: [2]string{trees[prev.tree].Record.Fn, t.Record.Fn},
					Reason: "one installs a directory, the other a file or symlink"}
			}
			clobbers = append(clobbers, Clobber{Path: e.Path, Winner: t.Record.Fn, Loser: trees[prev.tree].Record.Fn})
			drop[prev.tree][prev.entry] = true
			owners[e.Path] = owner{ti, ei}
		}
	}
	for ti, t := range trees {
		if len(drop[ti]) == 0 {
			continue
		}
		kept := make([]Entry, 0, len(t.Entries)-len(drop[ti]))
		for ei, e := range t.Entries {
			if !drop[ti][ei] {
				kept = append(kept, e)
			}
		}
		t.Entries = kept
	}
	var all []Entry
	ownerOf := map[string]string{}
	for _, t := range trees {
		for _, e := range t.Entries {
			all = append(all, e)
			if _, ok := ownerOf[e.Path]; !ok || e.Type != TypeDir {
				ownerOf[e.Path] = t.Record.Fn
			}
		}
	}
	if err := checkTree(all, strings.TrimPrefix(o.Prefix, "/"), func(p string) string { return ownerOf[p] }); err != nil {
		return nil, nil, err
	}
	return trees, clobbers, nil
}

func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// checkTree verifies a merged set of entries: paths are clean and inside root (or its
// ancestors, as directories), nothing is reached through a file or symlink, and every
// symlink resolves inside root, following the tree's own symlinks.
func checkTree(entries []Entry, root string, owner func(string) string) error {
	byPath := make(map[string]*Entry, len(entries))
	for i := range entries {
		e := &entries[i]
		if e.Path == "" || path.Clean(e.Path) != e.Path || strings.HasPrefix(e.Path, "/") || e.Path == ".." || strings.HasPrefix(e.Path, "../") {
			return &PathEscapeError{Package: owner(e.Path), Entry: e.Path, Reason: "entry path is not clean and relative"}
		}
		if root != "" && e.Path != root && !strings.HasPrefix(e.Path, root+"/") {
			if e.Type != TypeDir || !strings.HasPrefix(root, e.Path+"/") {
				return &PathEscapeError{Package: owner(e.Path), Entry: e.Path, Reason: "outside the prefix /" + root}
			}
		}
		byPath[e.Path] = e
	}
	for _, e := range entries {
		for d := path.Dir(e.Path); d != "."; d = path.Dir(d) {
			pe, ok := byPath[d]
			if !ok || pe.Type == TypeDir {
				continue
			}
			a, b := owner(d), owner(e.Path)
			if a != b {
				return &ConflictError{Path: e.Path, Packages: [2]string{a, b}, Reason: d + " is a file or symlink, not a directory"}
			}
			return &UnsafeEntryError{Package: b, Entry: e.Path, Reason: d + " is a file or symlink, not a directory"}
		}
		if e.Type == TypeHardlink {
			t, ok := byPath[e.Linkname]
			if !ok || t.Type != TypeFile {
				return &UnsafeEntryError{Package: owner(e.Path), Entry: e.Path, Reason: "hardlink target " + e.Linkname + " is not a file of the tree"}
			}
		}
		if e.Type == TypeSymlink {
			if reason := escapes(byPath, e.Path, e.Linkname, root); reason != "" {
				return &PathEscapeError{Package: owner(e.Path), Entry: e.Path, Reason: reason}
			}
		}
	}
	return nil
}

// escapes resolves a symlink's target component by component, following symlinks of the
// tree, and says why it leaves root ("" when it stays inside).
func escapes(byPath map[string]*Entry, from, target, root string) string {
	var rootLen int
	if root != "" {
		rootLen = len(strings.Split(root, "/"))
	}
	if strings.HasPrefix(target, "/") {
		return "symlink target " + target + " is absolute"
	}
	stack := strings.Split(path.Dir(from), "/")
	if path.Dir(from) == "." {
		stack = nil
	}
	pending := strings.Split(target, "/")
	for hops := 0; len(pending) > 0; {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) <= rootLen {
				return "symlink target " + target + " resolves outside the prefix"
			}
			stack = stack[:len(stack)-1]
			continue
		}
		stack = append(stack[:len(stack):len(stack)], c)
		e, ok := byPath[strings.Join(stack, "/")]
		if !ok || e.Type != TypeSymlink {
			continue
		}
		if hops++; hops > 40 {
			return "symlink loop through " + target
		}
		if strings.HasPrefix(e.Linkname, "/") {
			return "symlink target " + target + " goes through " + e.Path + ", an absolute symlink"
		}
		stack = stack[:len(stack)-1]
		pending = append(strings.Split(e.Linkname, "/"), pending...)
	}
	return ""
}

// WriteTree writes the entries of trees under dir (created if needed) with exact modes,
// whatever the umask. Later trees win where paths repeat, as in LinkAll. Every path is
// checked first and all writes go through an os.Root, so nothing lands outside dir.
func WriteTree(dir string, trees []*PackageTree) error {
	merged := map[string]Entry{}
	owners := map[string]string{}
	for i, t := range trees {
		name := t.Record.Fn
		if name == "" {
			name = fmt.Sprintf("tree %d", i)
		}
		for _, e := range t.Entries {
			if prev, ok := merged[e.Path]; ok && (prev.Type == TypeDir) != (e.Type == TypeDir) {
				return &ConflictError{Path: e.Path, Packages: [2]string{owners[e.Path], name}, Reason: "a directory and a file or symlink share this path"}
			}
			merged[e.Path] = e
			owners[e.Path] = name
		}
	}
	entries := make([]Entry, 0, len(merged))
	for _, e := range merged {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	if err := checkTree(entries, "", func(p string) string { return owners[p] }); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("install: writing tree: %w", err)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("install: writing tree: %w", err)
	}
	defer r.Close()
	var dirs []Entry
	for _, e := range entries {
		if err := writeEntry(r, e); err != nil {
			return fmt.Errorf("install: writing %s in %s: %w", e.Path, dir, err)
		}
		if e.Type == TypeDir {
			dirs = append(dirs, e)
		}
	}
	// Directory modes last, so a read-only directory cannot block its own contents.
	for _, e := range slices.Backward(dirs) {
		if err := r.Chmod(e.Path, e.Mode.Perm()); err != nil {
			return fmt.Errorf("install: writing %s in %s: %w", e.Path, dir, err)
		}
	}
	return nil
}

func writeEntry(r *os.Root, e Entry) error {
	if parent := path.Dir(e.Path); parent != "." {
		if err := r.MkdirAll(parent, 0o755); err != nil {
			return err
		}
	}
	if e.Type == TypeDir {
		if err := r.Mkdir(e.Path, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		st, err := r.Lstat(e.Path)
		if err != nil {
			return err
		}
		if !st.IsDir() {
			return fmt.Errorf("%s exists and is not a directory", e.Path)
		}
		return nil
	}
	if st, err := r.Lstat(e.Path); err == nil {
		if st.IsDir() {
			return fmt.Errorf("%s exists and is a directory", e.Path)
		}
		if err := r.Remove(e.Path); err != nil {
			return err
		}
	}
	switch e.Type {
	case TypeSymlink:
		return r.Symlink(e.Linkname, e.Path)
	case TypeHardlink:
		return r.Link(e.Linkname, e.Path)
	case TypeFile:
		f, err := r.OpenFile(e.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if err := writeContent(f, &e); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return r.Chmod(e.Path, e.Mode.Perm())
	}
	return fmt.Errorf("unknown entry type %d", e.Type)
}

// writeContent writes a file entry's content, streaming it from its spool file if any.
func writeContent(f *os.File, e *Entry) error {
	if e.Spool == nil {
		_, err := f.Write(e.Data)
		return err
	}
	rc, err := e.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	n, err := io.Copy(f, rc)
	if err == nil && n != e.Spool.Size {
		err = fmt.Errorf("spool file %s holds %d bytes, want %d", e.Spool.Path, n, e.Spool.Size)
	}
	return err
}
