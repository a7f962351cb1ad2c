package fsutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Temp is a temporary file or directory whose writer is alive while it is held.
type Temp struct {
	Path string
	// File is the open file of CreateTemp (nil for MkdirTemp).
	File *os.File
	lock *os.File
}

// MkdirTemp creates a directory in parent named pattern with a random part (as
// os.MkdirTemp) and locks it until Release.
//
// The directory is made and locked under a staging name that no CleanStale glob of
// pattern matches, and only then renamed to its final name: a CleanStale running
// beside it (another process opening the same cache) would otherwise find it unlocked
// between the mkdir and the lock and remove it.
func MkdirTemp(parent, pattern string) (*Temp, error) {
	for {
		staging, err := os.MkdirTemp(parent, stagingPrefix+pattern)
		if err != nil {
			return nil, err
		}
		f, err := os.Open(staging)
		if err == nil {
			err = lockFile(f)
		}
		if err != nil {
			if f != nil {
				f.Close()
			}
			os.RemoveAll(staging)
			return nil, err
		}
		dir := filepath.Join(parent, strings.TrimPrefix(filepath.Base(staging), stagingPrefix))
		if _, err := os.Lstat(dir); err == nil {
			// The final name is taken (a leftover with the same random part): try again.
			f.Close()
			os.RemoveAll(staging)
			continue
		}
		if err := os.Rename(staging, dir); err != nil {
			f.Close()
			os.RemoveAll(staging)
			return nil, err
		}
		return &Temp{Path: dir, lock: f}, nil
	}
}

// stagingPrefix starts the name a temporary directory has until it is locked.
const stagingPrefix = ".staging-"

// CreateTemp creates a file in parent named pattern with a random part (as
// os.CreateTemp) and locks it until Release. File is open for writing and named Path.
//
// As for MkdirTemp, the file is made and locked under a staging name that no CleanStale
// glob of pattern matches, and only then given its final name (a hard link, which
// fails rather than replace a file of that name, and the staging name removed), so a
// CleanStale beside it never finds it unlocked.
func CreateTemp(parent, pattern string) (*Temp, error) {
	for {
		staged, err := os.CreateTemp(parent, stagingPrefix+pattern)
		if err != nil {
			return nil, err
		}
		staging := staged.Name()
		staged.Close()
		// The lock is held on its own descriptor, so File can be closed (as it must
		// be before a rename) while the temporary stays protected.
		l, err := os.Open(staging)
		if err == nil {
			if err = lockFile(l); err != nil {
				l.Close()
			}
		}
		if err != nil {
			os.Remove(staging)
			return nil, err
		}
		path := filepath.Join(parent, strings.TrimPrefix(filepath.Base(staging), stagingPrefix))
		taken, err := giveName(staging, path)
		if err != nil || taken {
			l.Close()
			os.Remove(staging)
			if err != nil {
				return nil, err
			}
			continue // a leftover with the same random part: try another
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			l.Close()
			os.Remove(path)
			return nil, err
		}
		return &Temp{Path: path, File: f, lock: l}, nil
	}
}

// giveName moves the file staging to path unless path exists (taken).
func giveName(staging, path string) (taken bool, err error) {
	err = os.Link(staging, path)
	switch {
	case err == nil:
		if err := os.Remove(staging); err != nil {
			os.Remove(path)
			return false, err
		}
		return false, nil
	case errors.Is(err, os.ErrExist):
		return true, nil
	}
	// No hard links on this filesystem: check, then rename (a file created at path in
	// between would be replaced, as os.CreateTemp's own random names make unlikely).
	if _, err := os.Lstat(path); err == nil {
		return true, nil
	}
	return false, os.Rename(staging, path)
}

// Release drops the lock (and closes File if still open). Call it once the temporary is
// renamed away or removed.
func (t *Temp) Release() {
	if t == nil {
		return
	}
	if t.File != nil {
		t.File.Close()
	}
	if t.lock != nil {
		t.lock.Close()
		t.lock = nil
	}
}

// CleanStale removes the entries of parent matching glob (filepath.Match syntax, e.g.
// ".out.tmp-*") that no live writer holds: leftovers of runs killed before they could
// clean up. It returns what it removed.
func CleanStale(parent, glob string) ([]string, error) {
	ents, err := os.ReadDir(parent)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range ents {
		if ok, _ := filepath.Match(glob, e.Name()); !ok {
			continue
		}
		p := filepath.Join(parent, e.Name())
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		free, err := tryLock(f)
		if err != nil || !free {
			f.Close()
			continue
		}
		// Held while removing, so a writer cannot adopt the path meanwhile.
		err = os.RemoveAll(p)
		f.Close()
		if err == nil {
			removed = append(removed, p)
		}
	}
	return removed, nil
}

// ReplaceDir puts the directory tmp at dir, replacing what is there. Where the OS can
// exchange two paths atomically, dir is never missing: a kill leaves the old or the new
// tree at dir (and the other at tmp, for CleanStale). Elsewhere the old tree is moved
// aside first and put back if the second rename fails.
func ReplaceDir(tmp, dir string) error {
	if err := os.Rename(tmp, dir); err == nil {
		return nil
	}
	if _, err := os.Lstat(dir); err != nil {
		return fmt.Errorf("moving %s into place: %w", dir, err)
	}
	switch err := exchange(tmp, dir); {
	case err == nil:
		// tmp now holds the old tree.
		return os.RemoveAll(tmp)
	case !errors.Is(err, errNoExchange):
		return fmt.Errorf("exchanging %s with its new version: %w", dir, err)
	}
	old := strings.TrimRight(tmp, string(filepath.Separator)) + ".old"
	if err := os.Rename(dir, old); err != nil {
		return fmt.Errorf("moving the old %s aside to replace it: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.Rename(old, dir) // put the old tree back rather than leave nothing
		return fmt.Errorf("moving %s into place: %w", dir, err)
	}
	return os.RemoveAll(old)
}

// errNoExchange says the OS or filesystem cannot exchange two paths atomically.
var errNoExchange = errors.New("atomic exchange not supported")
