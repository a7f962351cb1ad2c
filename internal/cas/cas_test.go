package cas

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func md5sum(b []byte) string {
	h := md5.Sum(b)
	return hex.EncodeToString(h[:])
}

func TestPut(t *testing.T) {
	data := []byte("a package archive, really")
	other := []byte("something else")
	tests := []struct {
		name    string
		key     string
		body    []byte
		opts    []PutOption
		wantErr any
	}{
		{name: "match", key: sum(data), body: data},
		{name: "upper-case key", key: strings.ToUpper(sum(data)), body: data},
		{name: "md5 match", key: sum(data), body: data, opts: []PutOption{WithHash("md5", md5.New(), md5sum(data))}},
		{name: "sha256 mismatch", key: sum(data), body: other, wantErr: new(*MismatchError)},
		{name: "md5 mismatch", key: sum(data), body: data, opts: []PutOption{WithHash("md5", md5.New(), md5sum(other))}, wantErr: new(*MismatchError)},
		{name: "short key", key: "abc", body: data, wantErr: new(*InvalidKeyError)},
		{name: "non-hex key", key: strings.Repeat("zz", 32), body: data, wantErr: new(*InvalidKeyError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.Put(context.Background(), tt.key, bytes.NewReader(tt.body), tt.opts...)
			if tt.wantErr != nil {
				if err == nil || !errors.As(err, tt.wantErr) {
					t.Fatalf("Put error = %v, want %T", err, tt.wantErr)
				}
				if _, ok := s.Path(tt.key); ok {
					t.Fatal("a rejected body is present in the store")
				}
				assertNoTemp(t, s)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, tt.body) {
				t.Fatalf("stored bytes = %q, %v", got, err)
			}
			if q, ok := s.Path(tt.key); !ok || q != p {
				t.Fatalf("Path = %q, %v; want %q", q, ok, p)
			}
		})
	}
}

func TestMismatchNamesBothHashes(t *testing.T) {
	s, _ := Open(t.TempDir())
	want := sum([]byte("x"))
	_, err := s.Put(context.Background(), want, strings.NewReader("y"))
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v", err)
	}
	if me.Expected != want || me.Actual != sum([]byte("y")) || !strings.Contains(err.Error(), want) {
		t.Fatalf("mismatch error = %+v", me)
	}
}

func assertNoTemp(t *testing.T, s *Store) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.Dir(), "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Fatalf("temporary files left: %v", ents)
	}
}

// A present key is not read again: the reader would fail if it were.
func TestPutPresentSkipsReader(t *testing.T) {
	s, _ := Open(t.TempDir())
	data := []byte("content")
	if _, err := s.Put(context.Background(), sum(data), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(context.Background(), sum(data), iotestErrReader{}); err != nil {
		t.Fatalf("second Put read its body: %v", err)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("must not be read") }

func TestConcurrentPut(t *testing.T) {
	s, _ := Open(t.TempDir())
	data := bytes.Repeat([]byte("0123456789"), 100000)
	key := sum(data)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Put(context.Background(), key, bytes.NewReader(data))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	p, ok := s.Path(key)
	if !ok {
		t.Fatal("missing after concurrent puts")
	}
	got, _ := os.ReadFile(p)
	if sum(got) != key {
		t.Fatal("stored file does not match its key")
	}
	assertNoTemp(t, s)
}

func TestCancelledWhileLocked(t *testing.T) {
	s, _ := Open(t.TempDir())
	key := sum([]byte("k"))
	unlock, err := s.lock(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Put(ctx, key, strings.NewReader("k")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put under a held lock with a cancelled context = %v", err)
	}
}

const helperEnv = "REPROBUILD_CAS_TEST_HELPER"

// TestMain runs helperProcess instead of the tests in a child process started by
// TestKilledWriterLeavesUsableStore.
func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		helperProcess(dir)
	}
	os.Exit(m.Run())
}

// helperProcess writes half a file under the key lock and waits to be killed.
func helperProcess(dir string) {
	s, err := Open(dir)
	if err != nil {
		os.Exit(2)
	}
	data := bytes.Repeat([]byte("x"), 1<<20)
	pr, pw := io.Pipe()
	go func() {
		pw.Write(data[:len(data)/2])
		os.Stdout.WriteString("half\n")
		select {} // never finish: the parent kills us
	}()
	s.Put(context.Background(), sum(data), pr)
	os.Exit(3)
}

func TestKilledWriterLeavesUsableStore(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "half\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait()

	s, _ := Open(dir)
	data := bytes.Repeat([]byte("x"), 1<<20)
	key := sum(data)
	if _, ok := s.Path(key); ok {
		t.Fatal("half-written file is visible under its key")
	}
	// The next process to open the store removed the killed writer's temp file.
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Fatalf("the killed writer's temp file survived Open: %v", ents)
	}
	p, err := s.Put(context.Background(), key, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Put after a killed writer: %v", err)
	}
	got, _ := os.ReadFile(p)
	if sum(got) != key {
		t.Fatal("stored file does not match")
	}
	if err := s.Clean(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertNoTemp(t, s)
}

func TestVerify(t *testing.T) {
	for _, fsync := range []bool{false, true} {
		t.Run(fmt.Sprint("fsync=", fsync), func(t *testing.T) {
			s, _ := Open(t.TempDir(), WithFsync(fsync))
			data := []byte("payload")
			p, err := s.Put(context.Background(), sum(data), bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Verify(sum(data)); err != nil {
				t.Fatalf("Verify of an intact file: %v", err)
			}
			// Simulate damage the store cannot see (a power loss without fsync).
			os.Chmod(p, 0o644)
			os.WriteFile(p, []byte("garbage"), 0o644)
			var me *MismatchError
			if err := s.Verify(sum(data)); !errors.As(err, &me) {
				t.Fatalf("Verify of a damaged file: %v", err)
			}
			if _, ok := s.Path(sum(data)); ok {
				t.Fatal("a damaged file stays in the store")
			}
			if err := s.Verify(sum([]byte("absent"))); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("Verify of an absent key: %v", err)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	data := []byte("a package archive read in place")
	ctx := context.Background()
	if err := Check(ctx, sum(data), bytes.NewReader(data), WithHash("md5", md5.New(), md5sum(data))); err != nil {
		t.Fatalf("matching bytes: %v", err)
	}
	var me *MismatchError
	if err := Check(ctx, sum([]byte("other")), bytes.NewReader(data)); !errors.As(err, &me) || me.Algorithm != "sha256" {
		t.Fatalf("wrong sha256: got %v, want a sha256 MismatchError", err)
	}
	if err := Check(ctx, sum(data), bytes.NewReader(data), WithHash("md5", md5.New(), md5sum([]byte("x")))); !errors.As(err, &me) || me.Algorithm != "md5" {
		t.Fatalf("wrong md5: got %v, want an md5 MismatchError", err)
	}
	var ke *InvalidKeyError
	if err := Check(ctx, "nothex", bytes.NewReader(data)); !errors.As(err, &ke) {
		t.Fatalf("bad key: got %v", err)
	}
}
