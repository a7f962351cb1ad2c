package cas

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/reprobuild/reprobuild/internal/fsutil"
)

// Store is a directory of files named by the sha256 of their content. A file is only
// ever placed under its name after its bytes were hashed and matched, so presence means
// verified.
type Store struct {
	dir   string
	fsync bool
}

// Option configures a Store.
type Option func(*Store)

// WithFsync makes Put flush each file and its directory to stable storage before it
// returns. Without it (the default, like the Go module cache) a crash of the process,
// even SIGKILL, still never exposes a partial file, but a power loss may; Verify
// detects such a file.
func WithFsync(on bool) Option { return func(s *Store) { s.fsync = on } }

// Open opens (creating if needed) the store rooted at dir.
func Open(dir string, opts ...Option) (*Store, error) {
	if dir == "" {
		return nil, errors.New("cas: no cache directory given; pass --cache-dir or set REPROBUILD_CACHE")
	}
	for _, d := range []string{"sha256", "tmp", "locks"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("cas: creating cache directory %s: %w", dir, err)
		}
	}
	s := &Store{dir: dir}
	for _, o := range opts {
		o(s)
	}
	// Temporary files of writers killed mid-way (cas/tmp) are removed by the next
	// process to open the store; a live writer's are kept (see Clean).
	_ = s.Clean(context.Background())
	// Other users of cas/tmp (link spools, streamed repodata) hold an fsutil lock while
	// they live; what a killed process left is removed here.
	for _, glob := range []string{"spool-*", "repodata-*"} {
		_, _ = fsutil.CleanStale(filepath.Join(dir, "tmp"), glob)
	}
	return s, nil
}

// Dir is the store's root directory.
func (s *Store) Dir() string { return s.dir }

// InvalidKeyError is a key that is not 64 lower-case hex digits.
type InvalidKeyError struct{ Key string }

func (e *InvalidKeyError) Error() string {
	return fmt.Sprintf("cas: %q is not a sha256 (64 hex digits); the lock or record is malformed", e.Key)
}

// MismatchError says the bytes offered under a key hash to something else.
type MismatchError struct {
	Algorithm string // "sha256", or the name of an extra check
	Expected  string
	Actual    string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s mismatch: expected %s, got %s", e.Algorithm, e.Expected, e.Actual)
}

// normKey validates a sha256 key and returns it in lower case.
func normKey(key string) (string, error) {
	k := strings.ToLower(key)
	if len(k) != sha256.Size*2 {
		return "", &InvalidKeyError{Key: key}
	}
	if _, err := hex.DecodeString(k); err != nil {
		return "", &InvalidKeyError{Key: key}
	}
	return k, nil
}

func (s *Store) objectPath(k string) string {
	return filepath.Join(s.dir, "sha256", k[:2], k)
}

// Path returns the path of the verified file stored under sha256, and whether it is
// present.
func (s *Store) Path(sha256 string) (string, bool) {
	k, err := normKey(sha256)
	if err != nil {
		return "", false
	}
	p := s.objectPath(k)
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	return p, true
}

// PutOption adjusts one Put.
type PutOption func(*putOptions)

type putOptions struct {
	checks []check
}

type check struct {
	name     string
	h        hash.Hash
	expected string
}

// WithHash adds a second digest (e.g. md5 from repodata) that must also match before the
// file is stored. expected is hex; name appears in a MismatchError.
func WithHash(name string, h hash.Hash, expected string) PutOption {
	return func(o *putOptions) {
		o.checks = append(o.checks, check{name: name, h: h, expected: strings.ToLower(expected)})
	}
}

// Put stores the bytes of r under sha256 and returns the stored file's path. The bytes
// go to a temporary file, are hashed while written, and are renamed into place only when
// every digest matches; a mismatch returns a *MismatchError and stores nothing. A lock
// file per key serialises writers across processes; if the key is already present, r is
// not read.
func (s *Store) Put(ctx context.Context, sha256Hex string, r io.Reader, opts ...PutOption) (string, error) {
	k, err := normKey(sha256Hex)
	if err != nil {
		return "", err
	}
	var o putOptions
	for _, f := range opts {
		f(&o)
	}
	unlock, err := s.lock(ctx, k)
	if err != nil {
		return "", err
	}
	defer unlock()
	dst := s.objectPath(k)
	if p, ok := s.Path(k); ok {
		return p, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("cas: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), k+".*")
	if err != nil {
		return "", fmt.Errorf("cas: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	ws := []io.Writer{tmp, h}
	for _, c := range o.checks {
		ws = append(ws, c.h)
	}
	buf := copyBufs.Get().(*[]byte)
	_, err = io.CopyBuffer(io.MultiWriter(ws...), ctxReader{ctx, r}, *buf)
	copyBufs.Put(buf)
	if err != nil {
		return "", err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != k {
		return "", &MismatchError{Algorithm: "sha256", Expected: k, Actual: got}
	}
	for _, c := range o.checks {
		if got := hex.EncodeToString(c.h.Sum(nil)); got != c.expected {
			return "", &MismatchError{Algorithm: c.name, Expected: c.expected, Actual: got}
		}
	}
	if err := tmp.Chmod(0o444); err != nil {
		return "", fmt.Errorf("cas: %w", err)
	}
	if s.fsync {
		if err := tmp.Sync(); err != nil {
			return "", fmt.Errorf("cas: %w", err)
		}
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("cas: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("cas: %w", err)
	}
	done = true
	if s.fsync {
		syncDir(filepath.Dir(dst))
	}
	return dst, nil
}

// Check hashes the bytes of r and returns nil only if they match sha256 and every extra
// digest of opts; a mismatch is a *MismatchError. Nothing is stored: it lets a caller use
// a local file where it is (e.g. in a file:// channel) once it is known to be the right
// one, without copying it into the store.
func Check(ctx context.Context, sha256Hex string, r io.Reader, opts ...PutOption) error {
	k, err := normKey(sha256Hex)
	if err != nil {
		return err
	}
	var o putOptions
	for _, f := range opts {
		f(&o)
	}
	h := sha256.New()
	ws := []io.Writer{h}
	for _, c := range o.checks {
		ws = append(ws, c.h)
	}
	w := io.Writer(h)
	if len(ws) > 1 {
		w = io.MultiWriter(ws...)
	}
	buf := copyBufs.Get().(*[]byte)
	_, err = io.CopyBuffer(w, ctxReader{ctx, r}, *buf)
	copyBufs.Put(buf)
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != k {
		return &MismatchError{Algorithm: "sha256", Expected: k, Actual: got}
	}
	for _, c := range o.checks {
		if got := hex.EncodeToString(c.h.Sum(nil)); got != c.expected {
			return &MismatchError{Algorithm: c.name, Expected: c.expected, Actual: got}
		}
	}
	return nil
}

// copyBufs holds copy buffers larger than io.Copy's 32 KiB, to halve the write calls
// for package-sized files.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// Verify re-hashes the file stored under sha256 and removes it if it no longer matches
// (e.g. damaged by a power loss without WithFsync). It returns a *MismatchError then.
func (s *Store) Verify(sha256Hex string) error {
	k, err := normKey(sha256Hex)
	if err != nil {
		return err
	}
	p, ok := s.Path(k)
	if !ok {
		return fmt.Errorf("cas: %s: %w", k, os.ErrNotExist)
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("cas: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("cas: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != k {
		os.Remove(p)
		return &MismatchError{Algorithm: "sha256", Expected: k, Actual: got}
	}
	return nil
}

// PutFile stores a local file (e.g. from a file:// channel) under sha256.
func (s *Store) PutFile(ctx context.Context, sha256Hex, path string, opts ...PutOption) (string, error) {
	if p, ok := s.Path(sha256Hex); ok {
		return p, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return s.Put(ctx, sha256Hex, f, opts...)
}

// Clean removes temporary files left by writers that died mid-way. Only files whose
// key lock can be taken at once are removed, so a live writer is never disturbed.
func (s *Store) Clean(ctx context.Context) error {
	ents, err := os.ReadDir(filepath.Join(s.dir, "tmp"))
	if err != nil {
		return fmt.Errorf("cas: %w", err)
	}
	for _, e := range ents {
		k, _, _ := strings.Cut(e.Name(), ".")
		if _, err := normKey(k); err != nil {
			continue
		}
		f, ok, err := s.tryLock(k)
		if err != nil || !ok {
			continue
		}
		os.Remove(filepath.Join(s.dir, "tmp", e.Name()))
		f.Close()
	}
	return nil
}

func (s *Store) lockFile(k string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(s.dir, "locks", k+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cas: opening lock for %s: %w", k, err)
	}
	return f, nil
}

func (s *Store) tryLock(k string) (*os.File, bool, error) {
	f, err := s.lockFile(k)
	if err != nil {
		return nil, false, err
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		return f, true, nil
	}
	f.Close()
	if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EINTR) {
		return nil, false, nil
	}
	return nil, false, fmt.Errorf("cas: locking %s: %w", k, err)
}

// lock takes the per-key lock, polling so that a cancelled context is honoured while
// another process holds it. The kernel drops the lock when its holder dies, even by
// SIGKILL.
func (s *Store) lock(ctx context.Context, k string) (func(), error) {
	wait := time.Millisecond
	for {
		f, ok, err := s.tryLock(k)
		if err != nil {
			return nil, err
		}
		if ok {
			return func() { f.Close() }, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("cas: waiting for the lock on %s: %w", k, ctx.Err())
		case <-t.C:
		}
		if wait < 100*time.Millisecond {
			wait *= 2
		}
	}
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// ctxReader stops a copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
