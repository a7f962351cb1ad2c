package fsutil

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

func write(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReplaceDir(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	for i, content := range []string{"first", "second", "third"} {
		tmp, err := MkdirTemp(parent, ".out.tmp-")
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(tmp.Path, "f"), content)
		if i == 1 {
			write(t, filepath.Join(tmp.Path, "only-second"), "x")
		}
		if err := ReplaceDir(tmp.Path, out); err != nil {
			t.Fatal(err)
		}
		tmp.Release()
		if got := read(t, filepath.Join(out, "f")); got != content {
			t.Fatalf("round %d: %q", i, got)
		}
		if _, err := os.Stat(filepath.Join(out, "only-second")); (err == nil) != (i == 1) {
			t.Fatalf("round %d: the old tree leaked into the new one", i)
		}
		if ents, _ := os.ReadDir(parent); len(ents) != 1 {
			t.Fatalf("round %d: leftovers %v", i, ents)
		}
	}
	if runtime.GOOS == "linux" {
		// The exchange itself: both paths exist and swap.
		a, b := filepath.Join(parent, "a"), filepath.Join(parent, "b")
		write(t, filepath.Join(a, "f"), "A")
		write(t, filepath.Join(b, "f"), "B")
		if err := exchange(a, b); err != nil {
			t.Fatalf("renameat2 RENAME_EXCHANGE: %v", err)
		}
		if read(t, filepath.Join(a, "f")) != "B" || read(t, filepath.Join(b, "f")) != "A" {
			t.Fatal("not exchanged")
		}
	}
}

func TestCleanStaleKeepsLiveWriters(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("flock-based cleaning is Linux-only")
	}
	parent := t.TempDir()
	live, err := MkdirTemp(parent, ".out.tmp-")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Release()
	liveFile, err := CreateTemp(parent, ".out.tmp-")
	if err != nil {
		t.Fatal(err)
	}
	liveFile.File.Close() // closed before a rename, still protected
	defer liveFile.Release()
	dead := filepath.Join(parent, ".out.tmp-dead")
	write(t, filepath.Join(dead, "f"), "x")
	deadFile := filepath.Join(parent, ".out.tmp-deadfile")
	write(t, deadFile, "x")
	other := filepath.Join(parent, "keep-me")
	write(t, other, "x")
	removed, err := CleanStale(parent, ".out.tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 {
		t.Errorf("removed %v, want the two dead temporaries", removed)
	}
	for _, p := range []string{live.Path, liveFile.Path, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	for _, p := range []string{dead, deadFile} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s kept", p)
		}
	}
}

const helperEnv = "REPROBUILD_FSUTIL_HELPER"

// TestMain runs helperProcess instead of the tests in a child process started by
// TestKilledBeforeReplace.
func TestMain(m *testing.M) {
	if parent := os.Getenv(helperEnv); parent != "" {
		helperProcess(parent)
	}
	os.Exit(m.Run())
}

var heldTemp *Temp

// helperProcess writes a new output in a temporary directory and waits to be killed
// before replacing the old one.
func helperProcess(parent string) {
	tmp, err := MkdirTemp(parent, ".out.tmp-")
	if err != nil {
		os.Exit(2)
	}
	// Held in a global, as a real writer holds its Temp until Release: a Temp nothing
	// refers to any more may be collected, and its lock closed with it, while the
	// helper waits (TestKilledBeforeReplace once saw its live temporary removed).
	heldTemp = tmp
	os.WriteFile(filepath.Join(tmp.Path, "f"), []byte("new"), 0o644)
	os.Stdout.WriteString("ready\n")
	select {}
}

// TestKilledBeforeReplace: a writer killed (SIGKILL) with its new output complete but
// not yet in place leaves the old output whole; the next run removes the leftover and
// replaces the output.
func TestKilledBeforeReplace(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("flock-based cleaning is Linux-only")
	}
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	write(t, filepath.Join(out, "f"), "old")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+parent)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	// While the writer lives, its temporary is not touched.
	if removed, _ := CleanStale(parent, ".out.tmp-*"); len(removed) != 0 {
		t.Fatalf("a live writer's temporary was removed: %v", removed)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if got := read(t, filepath.Join(out, "f")); got != "old" {
		t.Fatalf("output after the kill: %q", got)
	}
	removed, err := CleanStale(parent, ".out.tmp-*")
	if err != nil || len(removed) != 1 {
		t.Fatalf("leftover not removed: %v %v", removed, err)
	}
	tmp, err := MkdirTemp(parent, ".out.tmp-")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(tmp.Path, "f"), "new")
	if err := ReplaceDir(tmp.Path, out); err != nil {
		t.Fatal(err)
	}
	tmp.Release()
	if got := read(t, filepath.Join(out, "f")); got != "new" {
		t.Fatalf("output: %q", got)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 1 {
		t.Errorf("leftovers: %v", ents)
	}
}

// TestMkdirTempRacesCleanStale: a directory MkdirTemp returns is never removed by a
// CleanStale running at the same time (two processes sharing a cache; found by the
// catalogue's concurrent builds).
func TestMkdirTempRacesCleanStale(t *testing.T) {
	parent := t.TempDir()
	stopCleaning := cleanStaleLoop(parent, "spool-*")
	defer stopCleaning()
	for i := 0; i < 500; i++ {
		tmp, err := MkdirTemp(parent, "spool-*")
		if err != nil {
			t.Fatalf("MkdirTemp %d: %v", i, err)
		}
		if err := os.WriteFile(filepath.Join(tmp.Path, "x"), []byte("x"), 0o644); err != nil {
			t.Fatalf("directory %d removed while held: %v", i, err)
		}
		os.RemoveAll(tmp.Path)
		tmp.Release()
	}
}

// TestCreateTempRacesCleanStale: a file CreateTemp returns is never removed by a
// CleanStale running at the same time (two processes sharing a cache's tmp directory),
// and File names the path the caller renames.
func TestCreateTempRacesCleanStale(t *testing.T) {
	parent := t.TempDir()
	defer cleanStaleLoop(parent, "repodata-*")()
	for i := 0; i < 500; i++ {
		tmp, err := CreateTemp(parent, "repodata-*")
		if err != nil {
			t.Fatalf("CreateTemp %d: %v", i, err)
		}
		if tmp.File.Name() != tmp.Path {
			t.Fatalf("File.Name() = %s, Path = %s", tmp.File.Name(), tmp.Path)
		}
		if _, err := tmp.File.WriteString("x"); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(tmp.Path); err != nil {
			t.Fatalf("file %d removed while held: %v", i, err)
		}
		os.Remove(tmp.Path)
		tmp.Release()
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("leftovers: %v", ents)
	}
}

// cleanStaleLoop runs CleanStale(parent, pattern) over and over, as a second process
// sharing the directory would, until the returned function stops it.
func cleanStaleLoop(parent, pattern string) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			default:
				CleanStale(parent, pattern)
			}
		}
	}()
	return func() { close(quit); <-done }
}
