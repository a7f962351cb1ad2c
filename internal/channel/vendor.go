package channel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// vendorRepodata is the repodata.json Vendor writes; encoding/json sorts map keys, so
// the same records always give the same bytes.
type vendorRepodata struct {
	Info            vendorInfo                     `json:"info"`
	Packages        map[string]conda.PackageRecord `json:"packages"`
	PackagesConda   map[string]conda.PackageRecord `json:"packages.conda"`
	Removed         []string                       `json:"removed"`
	RepodataVersion int                            `json:"repodata_version"`
}

type vendorInfo struct {
	Subdir string `json:"subdir"`
}

// VendorError is a set of downloads that cannot form one channel.
type VendorError struct{ Reason string }

func (e *VendorError) Error() string { return "vendor: " + e.Reason }

func validFn(fn string) bool {
	return validSubdir(fn) && (strings.HasSuffix(fn, ".conda") || strings.HasSuffix(fn, ".tar.bz2"))
}

// Vendor fetches every download (verified, through the cache) and writes DIR as a
// conda channel: DIR/<subdir>/<fn> plus DIR/<subdir>/repodata.json for each subdir,
// and an empty noarch/repodata.json if no noarch package is present. The same file
// locked twice (several targets) is written once; two different files with one name
// are an error. Records in the written repodata carry no url or channel, so the
// directory can move.
func Vendor(ctx context.Context, c *Client, ds []Download, dir string) error {
	bySubdir := map[string]map[string]conda.PackageRecord{}
	var uniq []Download
	for _, d := range ds {
		r := d.Record
		if !validSubdir(r.Subdir) || !validFn(r.Fn) {
			return &VendorError{Reason: fmt.Sprintf("%s: unsafe or missing subdir/file name %q/%q", pkgName(r), r.Subdir, r.Fn)}
		}
		m := bySubdir[r.Subdir]
		if m == nil {
			m = map[string]conda.PackageRecord{}
			bySubdir[r.Subdir] = m
		}
		if prev, ok := m[r.Fn]; ok {
			if !strings.EqualFold(prev.SHA256, r.SHA256) {
				return &VendorError{Reason: fmt.Sprintf("%s/%s is locked with two different sha256 (%s, %s); the channels disagree, pick one", r.Subdir, r.Fn, prev.SHA256, r.SHA256)}
			}
			continue
		}
		m[r.Fn] = r
		uniq = append(uniq, d)
	}
	paths, err := c.Fetch(ctx, uniq)
	if err != nil {
		return err
	}
	for i, d := range uniq {
		dst := filepath.Join(dir, d.Record.Subdir, d.Record.Fn)
		if err := copyFile(paths[i], dst); err != nil {
			return fmt.Errorf("vendor: writing %s: %w", dst, err)
		}
	}
	if _, ok := bySubdir["noarch"]; !ok {
		bySubdir["noarch"] = map[string]conda.PackageRecord{}
	}
	subdirs := make([]string, 0, len(bySubdir))
	for s := range bySubdir {
		subdirs = append(subdirs, s)
	}
	sort.Strings(subdirs)
	for _, s := range subdirs {
		data, err := vendorIndex(s, bySubdir[s])
		if err != nil {
			return err
		}
		p := filepath.Join(dir, s, "repodata.json")
		if err := writeAtomic(p, data); err != nil {
			return fmt.Errorf("vendor: writing %s: %w", p, err)
		}
	}
	return nil
}

func vendorIndex(subdir string, recs map[string]conda.PackageRecord) ([]byte, error) {
	doc := vendorRepodata{
		Info:            vendorInfo{Subdir: subdir},
		Packages:        map[string]conda.PackageRecord{},
		PackagesConda:   map[string]conda.PackageRecord{},
		Removed:         []string{},
		RepodataVersion: 1,
	}
	for fn, r := range recs {
		r.URL, r.Channel = "", ""
		if strings.HasSuffix(fn, ".conda") {
			doc.PackagesConda[fn] = r
		} else {
			doc.Packages[fn] = r
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// copyFile copies a cached file to dst through a temporary file, so an interrupted
// vendor never leaves a partial archive under its real name.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(out.Name())
		return err
	}
	if err := out.Chmod(0o644); err != nil {
		out.Close()
		os.Remove(out.Name())
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(out.Name())
		return err
	}
	return os.Rename(out.Name(), dst)
}

// ExcludeNewer returns the records whose timestamp is not after t. Records without a
// timestamp are kept (conda and rattler do the same), so old channels stay usable.
func ExcludeNewer(recs []conda.PackageRecord, t time.Time) []conda.PackageRecord {
	limit := t.UnixMilli()
	out := make([]conda.PackageRecord, 0, len(recs))
	for _, r := range recs {
		if r.Timestamp == 0 || r.Timestamp <= limit {
			out = append(out, r)
		}
	}
	return out
}
