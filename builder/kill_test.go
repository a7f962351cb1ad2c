package builder

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
)

const killHelperEnv = "REPROBUILD_KILL_HELPER"

// killJob is what the helper process builds and where it stops.
type killJob struct {
	Recipe, Cache, Output, Phase string
}

// TestMain runs the kill helper instead of the tests in a child process started by
// TestKillAtEveryPhase.
func TestMain(m *testing.M) {
	if raw := os.Getenv(killHelperEnv); raw != "" {
		killHelper(raw)
	}
	os.Exit(m.Run())
}

// killHelper runs one build in a child process and, when it reaches the phase it was
// given, says so and waits to be killed.
func killHelper(raw string) {
	var j killJob
	if err := json.Unmarshal([]byte(raw), &j); err != nil {
		os.Exit(2)
	}
	var once sync.Once
	o := ImageOptions{Recipe: j.Recipe, Locked: true, Output: "oci:" + j.Output, Channel: ChannelOptions{CacheDir: j.Cache},
		Phase: func(p string) {
			if p == j.Phase {
				once.Do(func() { fmt.Println("at " + p) })
				select {}
			}
		}}
	Image(context.Background(), o)
	os.Exit(3) // never reached: the parent kills us first
}

// killProject writes a recipe and lock of two packages served over HTTP by srv (the
// second one large enough to be caught mid-download).
func killProject(t *testing.T, srv *stallServer) string {
	t.Helper()
	dir := t.TempDir()
	pkgs := filepath.Join(dir, "pkgs")
	// Incompressible, so the archive is large enough to be caught mid-download.
	big := make([]byte, 4<<20)
	seed := uint32(12345)
	for i := range big {
		seed = seed*1664525 + 1013904223
		big[i] = byte(seed >> 24)
	}
	var recs []conda.PackageRecord
	for _, p := range []pkgmaker.Package{
		{Record: conda.PackageRecord{Name: "hello", Version: "1.0", Build: "0", Subdir: "linux-64"},
			Files: []pkgmaker.File{{Path: "bin/hello", Data: []byte("#!/bin/sh\necho hi\n"), Mode: 0o755}, {Path: "lib/libhello.so", Symlink: "libhello.so.1"}, {Path: "lib/libhello.so.1", Data: []byte("elf")}}},
		{Record: conda.PackageRecord{Name: "bigdata", Version: "2.0", Build: "0", Subdir: "linux-64"},
			Files: []pkgmaker.File{{Path: "share/big.bin", Data: big}}},
	} {
		rec, err := pkgmaker.Write(pkgs, p, pkgmaker.TarBz2)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(pkgs, rec.Fn))
		if err != nil {
			t.Fatal(err)
		}
		srv.files["/ch/linux-64/"+rec.Fn] = data
		rec.URL = srv.URL + "/ch/linux-64/" + rec.Fn
		rec.Channel = srv.URL + "/ch"
		recs = append(recs, rec)
	}
	recipe := filepath.Join(dir, "reprobuild.hcl")
	src := fmt.Sprintf("channel \"c\" { url = %q }\ndependencies {\n  conda = [\"hello\", \"bigdata\"]\n}\nplatform { targets = [\"linux-64\"] }\n", srv.URL+"/ch")
	if err := os.WriteFile(recipe, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := LoadRecipe(recipe, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLock(r)
	l.Targets = []lock.Target{{Platform: "linux-64", Packages: recs}}
	if err := WriteLock(r, l); err != nil {
		t.Fatal(err)
	}
	return recipe
}

// stallServer serves files; while stall is set, a download sends half the bytes, reports
// it on halfSent and then hangs.
type stallServer struct {
	*httptest.Server
	files    map[string][]byte
	mu       sync.Mutex
	stall    bool
	halfSent chan string
	done     chan struct{}
}

func newStallServer(t *testing.T) *stallServer {
	s := &stallServer{files: map[string][]byte{}, halfSent: make(chan string, 10), done: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := s.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		s.mu.Lock()
		stall := s.stall && len(data) > 1<<20
		s.mu.Unlock()
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		if !stall {
			w.Write(data)
			return
		}
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		s.halfSent <- r.URL.Path
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
	}))
	t.Cleanup(func() { close(s.done); s.CloseClientConnections(); s.Close() })
	return s
}

// leftovers lists temporary files under the cache and beside the output.
func leftovers(t *testing.T, cache, output string) []string {
	t.Helper()
	var out []string
	walk := func(root string, skipDirs bool) {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			name := d.Name()
			if strings.Contains(name, ".tmp-") || (filepath.Base(filepath.Dir(p)) == "tmp" && strings.HasSuffix(filepath.Dir(filepath.Dir(p)), "cas")) {
				out = append(out, p)
			}
			if skipDirs && d.IsDir() && p != root {
				return filepath.SkipDir
			}
			return nil
		})
	}
	walk(cache, false)
	walk(filepath.Dir(output), true)
	return out
}

// TestKillAtEveryPhase kills (SIGKILL) a build at each phase, then builds again with the
// same cache and output: the build succeeds with the digest of an undisturbed build, the
// old output is whole after the kill, and no temporary file is left anywhere.
func TestKillAtEveryPhase(t *testing.T) {
	srv := newStallServer(t)
	recipe := killProject(t, srv)
	ctx := context.Background()
	cleanOut := filepath.Join(t.TempDir(), "clean")
	clean, err := Image(ctx, ImageOptions{Recipe: recipe, Locked: true, Output: "oci:" + cleanOut, Channel: ChannelOptions{CacheDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	cleanIndex, err := os.ReadFile(filepath.Join(cleanOut, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, phase := range []string{"fetch", "mid-download", "link", "layer-write", "output-replace"} {
		t.Run(phase, func(t *testing.T) {
			cache := t.TempDir()
			output := filepath.Join(t.TempDir(), "out")
			// An older output at the path, which a kill must never leave missing.
			if err := os.CopyFS(output, os.DirFS(cleanOut)); err != nil {
				t.Fatal(err)
			}
			job := killJob{Recipe: recipe, Cache: cache, Output: output, Phase: phase}
			if phase == "mid-download" {
				job.Phase = ""
				srv.mu.Lock()
				srv.stall = true
				srv.mu.Unlock()
				defer func() { srv.mu.Lock(); srv.stall = false; srv.mu.Unlock() }()
			}
			raw, _ := json.Marshal(job)
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), killHelperEnv+"="+string(raw))
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			if phase == "mid-download" {
				go func() { cmd.Wait(); close(exited) }()
				select {
				case <-srv.halfSent:
				case <-exited:
					t.Fatal("the helper finished without being caught mid-download")
				}
				// Wait until the client has started its temporary file in cas/tmp.
				for i := 0; i < 600; i++ {
					if ents, _ := os.ReadDir(filepath.Join(cache, "cas", "tmp")); len(ents) > 0 {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
			} else if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "at "+phase+"\n" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("helper said %q, %v", line, err)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			if phase == "mid-download" {
				<-exited
			} else {
				cmd.Wait()
			}
			if phase == "mid-download" {
				srv.mu.Lock()
				srv.stall = false
				srv.mu.Unlock()
			}
			if got, err := os.ReadFile(filepath.Join(output, "index.json")); err != nil || string(got) != string(cleanIndex) {
				t.Fatalf("after the kill the output is not the old one whole: %v", err)
			}
			// The phases that write temporaries must have left some, or the cleaning
			// below proves nothing.
			if left := leftovers(t, cache, output); (len(left) > 0) != (phase == "mid-download" || phase == "layer-write" || phase == "output-replace") {
				t.Errorf("after a kill at %s, temporaries: %v", phase, left)
			}
			res, err := Image(ctx, ImageOptions{Recipe: recipe, Locked: true, Output: "oci:" + output, Channel: ChannelOptions{CacheDir: cache}})
			if err != nil {
				t.Fatalf("build after a kill at %s: %v", phase, err)
			}
			if res.Digest != clean.Digest {
				t.Errorf("digest %s after a kill at %s, want %s", res.Digest, phase, clean.Digest)
			}
			if left := leftovers(t, cache, output); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}
