package install_test

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/internal/install"
)

func sha(b string) string {
	s := sha256.Sum256([]byte(b))
	return hex.EncodeToString(s[:])
}

type pj struct {
	Path   string `json:"_path"`
	Type   string `json:"path_type"`
	SHA256 string `json:"sha256,omitempty"`
	Size   *int64 `json:"size_in_bytes,omitempty"`
}

func pathsJSON(t *testing.T, ps []pj) rawMember {
	t.Helper()
	b, err := json.Marshal(map[string]any{"paths": ps, "paths_version": 1})
	if err != nil {
		t.Fatal(err)
	}
	return rawMember{name: "info/paths.json", data: b}
}

func size(n int64) *int64 { return &n }

// TestLyingPathsJSON is the corpus of packages whose info/paths.json disagrees with the
// archive: each is refused naming the package and the path, and nothing is linked.
func TestLyingPathsJSON(t *testing.T) {
	good := []rawMember{
		{name: "lib/a.txt", data: []byte("hello")},
		{name: "lib/link", typ: tar.TypeSymlink, linkname: "a.txt"},
	}
	goodList := []pj{
		{Path: "lib/a.txt", Type: "hardlink", SHA256: sha("hello"), Size: size(5)},
		{Path: "lib/link", Type: "softlink"},
	}
	tests := []struct {
		name    string
		payload []rawMember
		list    []pj
		path    string // "" = accepted
		reason  string
	}{
		{"honest", good, goodList, "", ""},
		{"wrong sha256", good, []pj{{Path: "lib/a.txt", Type: "hardlink", SHA256: sha("other"), Size: size(5)}, goodList[1]}, "lib/a.txt", "sha256"},
		{"wrong size", good, []pj{{Path: "lib/a.txt", Type: "hardlink", SHA256: sha("hello"), Size: size(6)}, goodList[1]}, "lib/a.txt", "says 6 bytes"},
		{"missing file", good, append(append([]pj{}, goodList...), pj{Path: "lib/ghost", Type: "hardlink"}), "lib/ghost", "missing from the archive"},
		{"unlisted file", append(append([]rawMember{}, good...), rawMember{name: "lib/stowaway", data: []byte("x")}), goodList, "lib/stowaway", "not listed"},
		{"file listed as symlink", good, []pj{{Path: "lib/a.txt", Type: "softlink"}, goodList[1]}, "lib/a.txt", "stored as a file"},
		{"symlink listed as file", good, []pj{goodList[0], {Path: "lib/link", Type: "hardlink"}}, "lib/link", "stored as a symlink"},
		{"listed twice", good, append(append([]pj{}, goodList...), goodList[0]), "lib/a.txt", "twice"},
		{"listed path escapes", good, append(append([]pj{}, goodList...), pj{Path: "../etc/passwd", Type: "hardlink"}), "../etc/passwd", "clean relative"},
		{"directory missing", good, append(append([]pj{}, goodList...), pj{Path: "share/empty", Type: "directory"}), "share/empty", "missing"},
	}
	for _, ext := range []string{".tar.bz2", ".conda"} {
		for _, tt := range tests {
			t.Run(ext+"/"+tt.name, func(t *testing.T) {
				dir := t.TempDir()
				info := []rawMember{{name: "info/index.json", data: []byte(rawIndex)}, pathsJSON(t, tt.list)}
				file := writeRawInfo(t, dir, ext, info, tt.payload)
				before := listDir(t, dir)
				tr, err := install.Link(context.Background(), install.Package{Archive: file}, install.Options{})
				if after := listDir(t, dir); !equalStrings(before, after) {
					t.Errorf("Link wrote files: %v -> %v", before, after)
				}
				if tt.path == "" {
					if err != nil {
						t.Fatal(err)
					}
					meta := tr.Entries[len(tr.Entries)-1]
					for _, e := range tr.Entries {
						if strings.Contains(e.Path, "conda-meta/") {
							meta = e
						}
					}
					if !strings.Contains(string(meta.Data), sha("hello")) {
						t.Errorf("conda-meta lacks the real digest:\n%s", meta.Data)
					}
					return
				}
				var pm *install.PathsMismatchError
				var mal *install.MalformedPackageError
				switch {
				case errors.As(err, &pm):
					if pm.Path != tt.path {
						t.Errorf("path = %q, want %q", pm.Path, tt.path)
					}
				case errors.As(err, &mal):
				default:
					t.Fatalf("err = %T %v, want a refusal", err, err)
				}
				if msg := err.Error(); !strings.Contains(msg, "evil-1-0"+ext) || !strings.Contains(msg, tt.path) || !strings.Contains(msg, tt.reason) {
					t.Errorf("message %q should name the package, %q and say %q", msg, tt.path, tt.reason)
				}
			})
		}
	}
}
