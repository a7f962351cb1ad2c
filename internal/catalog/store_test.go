package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprobuild/reprobuild/internal/testutil"
)

// fixedClock is a clock for tests: every call is one second later.
func fixedClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

// forEachDB runs f against a fresh SQLite store and a fresh store in a real PostgreSQL.
func forEachDB(t *testing.T, f func(t *testing.T, s *Store)) {
	t.Run("sqlite", func(t *testing.T) {
		s, err := OpenStore(context.Background(), "", t.TempDir(), fixedClock())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		f(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		pg := testutil.StartPostgres(t)
		s, err := OpenStore(context.Background(), pg.NewDatabase(t), t.TempDir(), fixedClock())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if !s.Postgres() {
			t.Fatal("store is not PostgreSQL")
		}
		f(t, s)
	})
}

func TestStore(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		t.Run("migrations", func(t *testing.T) {
			v, err := s.SchemaVersion(ctx)
			if err != nil || v != len(migrations) {
				t.Fatalf("schema version %d, %v; want %d", v, err, len(migrations))
			}
			// Applying again is a no-op.
			if err := s.migrate(ctx); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("concurrent versions", func(t *testing.T) {
			const n = 20
			var wg sync.WaitGroup
			nums := make([]int64, n)
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					v, err := s.CreateVersion(ctx, "lab", "race", "reprobuild.hcl", fmt.Sprintf("# %d\n", i), "tester", "embedded")
					if err == nil {
						nums[i] = v.Number
					}
					errs[i] = err
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
			for i, x := range nums {
				if x != int64(i+1) {
					t.Fatalf("version numbers %v: want 1..%d each once", nums, n)
				}
			}
			vs, err := s.Versions(ctx, "lab", "race")
			if err != nil || len(vs) != n {
				t.Fatalf("%d versions, %v; want %d", len(vs), err, n)
			}
			if err := s.IntegrityCheck(ctx); err != nil {
				t.Fatal(err)
			}
			log, err := s.AuditLog(ctx, 100)
			if err != nil {
				t.Fatal(err)
			}
			submits := 0
			for _, e := range log {
				if e.Action == "submit" && e.Actor == "tester" {
					submits++
				}
			}
			if submits != n {
				t.Errorf("audit log has %d submits, want %d", submits, n)
			}
		})
		t.Run("tokens", func(t *testing.T) {
			secret, tok, err := s.CreateToken(ctx, "admin", "ci", "lab", RoleViewer)
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.Authenticate(ctx, secret)
			if err != nil || p == nil {
				t.Fatalf("authenticate: %v, %v", p, err)
			}
			if !p.Sees("lab") || p.Sees("other") || p.Can(RoleEditor, "lab") {
				t.Errorf("viewer of lab: sees lab %v, sees other %v, edits lab %v", p.Sees("lab"), p.Sees("other"), p.Can(RoleEditor, "lab"))
			}
			if err := s.RevokeToken(ctx, "admin", tok.ID); err != nil {
				t.Fatal(err)
			}
			if p, _ := s.Authenticate(ctx, secret); p != nil {
				t.Error("a revoked token still authenticates")
			}
			if _, _, err := s.CreateToken(ctx, "admin", "x", "lab", "owner"); err == nil {
				t.Error("an unknown role was accepted")
			}
		})
		t.Run("recover interrupted", func(t *testing.T) {
			v, err := s.CreateVersion(ctx, "lab", "crash", "reprobuild.hcl", "# x\n", "tester", "embedded")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.startBuild(ctx, v.ID, v.Builds[0].ID); err != nil {
				t.Fatal(err)
			}
			q, err := s.CreateVersion(ctx, "lab", "crash", "reprobuild.hcl", "# y\n", "tester", "embedded")
			if err != nil {
				t.Fatal(err)
			}
			failed, queued, err := s.recoverInterrupted(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if failed != 1 {
				t.Errorf("%d builds marked failed, want 1", failed)
			}
			found := false
			for _, j := range queued {
				found = found || j.VersionID == q.ID
			}
			if !found {
				t.Errorf("queued version %d not returned to the queue: %+v", q.Number, queued)
			}
			got, err := s.GetVersion(ctx, "lab", "crash", v.Number)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != StatusFailed || got.Builds[0].Status != StatusFailed || got.Builds[0].Error == "" {
				t.Errorf("interrupted version: status %s, build %+v", got.Status, got.Builds[0])
			}
		})
	})
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in      string
		version bool
		want    Target
		bad     bool
	}{
		{in: "http://127.0.0.1:8080/lab/env", want: Target{Base: "http://127.0.0.1:8080", Namespace: "lab", Environment: "env"}},
		{in: "https://h/prefix/lab/env@3", version: true, want: Target{Base: "https://h/prefix", Namespace: "lab", Environment: "env", Version: 3}},
		{in: "https://h/lab/env@3", bad: true},
		{in: "https://h/lab/env@x", version: true, bad: true},
		{in: "ftp://h/lab/env", bad: true},
		{in: "http://h/lab", bad: true},
		{in: "http://h/Lab/env", bad: true},
	} {
		got, err := ParseTarget(tc.in, tc.version)
		if (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
			t.Errorf("ParseTarget(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func TestRebuildQueue(t *testing.T) {
	ctx := context.Background()
	s, err := OpenStore(ctx, "", t.TempDir(), fixedClock())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.CreateVersion(ctx, "lab", "re", "reprobuild.hcl", "# x\n", "tester", "embedded")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateBuild(ctx, "lab", "re", v.Number, "tester", "embedded"); !errors.Is(err, ErrBusy) {
		t.Fatalf("rebuild of a queued version: %v, want ErrBusy", err)
	}
	b := v.Builds[0]
	b.Status, b.Digest = StatusSucceeded, "sha256:aa"
	if err := s.finishBuild(ctx, v.ID, b, "version 1\n", "", nil); err != nil {
		t.Fatal(err)
	}
	j, err := s.CreateBuild(ctx, "lab", "re", v.Number, "tester", "embedded")
	if err != nil {
		t.Fatal(err)
	}
	if j.Lock != "version 1\n" || j.Recipe != "# x\n" {
		t.Errorf("rebuild job carries lock %q recipe %q", j.Lock, j.Recipe)
	}
	// A rebuild that ends without a new lock keeps the recorded one.
	if err := s.finishBuild(ctx, v.ID, Build{ID: j.BuildID, Status: StatusSucceeded, Digest: "sha256:aa"}, "", "", nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetVersion(ctx, "lab", "re", v.Number)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Builds) != 2 || got.Lock != "version 1\n" || got.Status != StatusSucceeded {
		t.Errorf("after the rebuild: %d builds, lock %q, status %s", len(got.Builds), got.Lock, got.Status)
	}
	if _, err := s.CreateBuild(ctx, "lab", "nope", 1, "tester", "embedded"); !errors.Is(err, ErrNotFound) {
		t.Errorf("rebuild of a missing version: %v", err)
	}
}

// TestRegistryArtifactsRecorded: what a build pushed to the registry is stored per build
// and read back with the version, on SQLite and PostgreSQL.
func TestRegistryArtifactsRecorded(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		v, err := s.CreateVersion(ctx, "lab", "reg", "reprobuild.hcl", "# x\n", "tester", "embedded")
		if err != nil {
			t.Fatal(err)
		}
		b := v.Builds[0]
		b.Status, b.Digest = StatusSucceeded, "sha256:"+strings.Repeat("a", 64)
		b.Registry = []RegistryArtifact{
			{Name: "reprobuild.lock", ArtifactType: "application/vnd.reprobuild.lock.v1", Ref: "r.example/lab/reg@sha256:" + strings.Repeat("b", 64), Subject: b.Digest},
			{Name: "linux-64-sbom.spdx.json", ArtifactType: "application/spdx+json", Ref: "r.example/lab/reg@sha256:" + strings.Repeat("c", 64), Subject: "sha256:" + strings.Repeat("d", 64)},
		}
		if err := s.finishBuild(ctx, v.ID, b, "version 1\n", "", nil); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetVersion(ctx, "lab", "reg", 1)
		if err != nil {
			t.Fatal(err)
		}
		// Read back in name order.
		want := []RegistryArtifact{b.Registry[1], b.Registry[0]}
		if len(got.Builds) != 1 || !slices.Equal(got.Builds[0].Registry, want) {
			t.Errorf("registry artifacts read back: %+v, want %+v", got.Builds[0].Registry, want)
		}
		if err := s.IntegrityCheck(ctx); err != nil {
			t.Error(err)
		}
	})
}

// TestUpgradeFromSchema1: a catalogue made before the registry_artifacts table
// (migration 2) opens, is upgraded at start, and keeps its versions.
func TestUpgradeFromSchema1(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old, err := OpenStore(ctx, "", dir, fixedClock())
	if err != nil {
		t.Fatal(err)
	}
	v, err := old.CreateVersion(ctx, "lab", "old", "reprobuild.hcl", "# x\n", "tester", "embedded")
	if err != nil {
		t.Fatal(err)
	}
	// Back to schema 1: as a server of the previous release left it.
	for _, stmt := range []string{`DROP TABLE registry_artifacts`, `DELETE FROM schema_migrations WHERE version > 1`} {
		if _, err := old.DB().ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	s, err := OpenStore(ctx, "", dir, fixedClock())
	if err != nil {
		t.Fatalf("opening a schema-1 catalogue: %v", err)
	}
	defer s.Close()
	if n, err := s.SchemaVersion(ctx); err != nil || n != len(migrations) {
		t.Fatalf("schema version %d, %v after the upgrade; want %d", n, err, len(migrations))
	}
	got, err := s.GetVersion(ctx, "lab", "old", v.Number)
	if err != nil || got.Recipe != "# x\n" || len(got.Builds) != 1 || got.Builds[0].Registry != nil {
		t.Fatalf("version after the upgrade: %+v, %v", got, err)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}
