package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Commands are the module's commands StaticBinaries builds, by file name.
var Commands = []string{"reprobuild", "reprobuild-frontend"}

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// StaticBinaries builds the module's commands (CGO_ENABLED=0, -trimpath, so they can
// run inside a BuildKit step) once per source tree and returns the directory holding
// them as "reprobuild" and "reprobuild-frontend". The directory is keyed by a hash of the
// module's Go sources, go.mod and go.sum and shared by every test process of a run
// (go test runs packages in parallel processes): the first builds under a file lock, the
// others reuse its result.
func StaticBinaries() (string, error) {
	binOnce.Do(func() { binDir, binErr = buildStatic() })
	return binDir, binErr
}

// RequireStaticBinaries is StaticBinaries for a test: a build failure fails it.
func RequireStaticBinaries(t testing.TB) string {
	t.Helper()
	dir, err := StaticBinaries()
	if err != nil {
		t.Fatalf("building the static reprobuild binaries: %v", err)
	}
	return dir
}

func buildStatic() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	key, err := sourceHash(root)
	if err != nil {
		return "", err
	}
	parent := filepath.Join(os.TempDir(), "reprobuild-test-bin")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	dir := filepath.Join(parent, key)
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if complete(dir) {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(parent, key+".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for _, c := range Commands {
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(tmp, c), "./cmd/"+c)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build ./cmd/%s: %v\n%s", c, err, out)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

func complete(dir string) bool {
	for _, c := range Commands {
		if fi, err := os.Stat(filepath.Join(dir, c)); err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// moduleRoot finds the directory of the reprobuild go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/reprobuild/reprobuild\n") {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", fmt.Errorf("no reprobuild go.mod above the working directory")
		}
		dir = up
	}
}

// sourceHash hashes what the commands are built from: every .go file outside testdata,
// go.mod and go.sum, by path and content.
func sourceHash(root string) (string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (n == "testdata" || strings.HasPrefix(n, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") || p == filepath.Join(root, "go.mod") || p == filepath.Join(root, "go.sum") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(root, f)
		fmt.Fprintf(h, "%s %d\n", rel, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}
