package pkgmaker

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// WriteChannel writes every package into dir/<subdir>/ and a repodata.json for every
// subdir used, plus an empty noarch/repodata.json when no package is noarch, so dir is a
// valid file:// channel. Output depends only on pkgs (their order does not matter).
func WriteChannel(dir string, pkgs []Package, f Format) error {
	bySubdir := map[string]map[string]any{"noarch": {}}
	for _, p := range pkgs {
		rec, data, err := Build(p, f)
		if err != nil {
			return err
		}
		sd := filepath.Join(dir, rec.Subdir)
		if err := os.MkdirAll(sd, 0o755); err != nil {
			return fmt.Errorf("pkgmaker: writing channel %s: %w", dir, err)
		}
		if err := os.WriteFile(filepath.Join(sd, rec.Fn), data, 0o644); err != nil {
			return fmt.Errorf("pkgmaker: writing channel %s: %w", dir, err)
		}
		if bySubdir[rec.Subdir] == nil {
			bySubdir[rec.Subdir] = map[string]any{}
		}
		if _, dup := bySubdir[rec.Subdir][rec.Fn]; dup {
			return &Error{Package: rec.Fn, Reason: "appears twice in the channel"}
		}
		bySubdir[rec.Subdir][rec.Fn] = RepodataEntry(rec)
	}
	subdirs := make([]string, 0, len(bySubdir))
	for s := range bySubdir {
		subdirs = append(subdirs, s)
	}
	slices.Sort(subdirs)
	for _, s := range subdirs {
		b, err := Repodata(s, bySubdir[s], f)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, s), 0o755); err != nil {
			return fmt.Errorf("pkgmaker: writing channel %s: %w", dir, err)
		}
		if err := os.WriteFile(filepath.Join(dir, s, "repodata.json"), b, 0o644); err != nil {
			return fmt.Errorf("pkgmaker: writing channel %s: %w", dir, err)
		}
	}
	return nil
}

// Repodata renders a subdir's repodata.json; records go under "packages.conda" or
// "packages" by format, and the other key is present and empty.
func Repodata(subdir string, records map[string]any, f Format) ([]byte, error) {
	conda, bz2 := map[string]any{}, map[string]any{}
	if f == TarBz2 {
		bz2 = records
	} else {
		conda = records
	}
	b, err := json.MarshalIndent(map[string]any{
		"info":             map[string]any{"subdir": subdir},
		"packages":         bz2,
		"packages.conda":   conda,
		"removed":          []string{},
		"repodata_version": 1,
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("pkgmaker: repodata for %s: %w", subdir, err)
	}
	return append(b, '\n'), nil
}
