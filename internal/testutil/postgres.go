package testutil

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Postgres is a PostgreSQL cluster started for a test on 127.0.0.1 in a temporary
// directory.
type Postgres struct {
	port int
	dbs  atomic.Int64
}

// postgresBin finds initdb and pg_ctl: $REPROBUILD_PG_BIN, PATH, else Debian's
// /usr/lib/postgresql/VERSION/bin.
func postgresBin() (string, error) {
	if d := os.Getenv("REPROBUILD_PG_BIN"); d != "" {
		return d, nil
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	ms, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(ms) > 0 {
		return filepath.Dir(ms[len(ms)-1]), nil
	}
	return "", fmt.Errorf("pg_ctl not found: install postgresql (.ci/catalog.sh) or set REPROBUILD_PG_BIN")
}

// StartPostgres runs initdb and pg_ctl start on a free 127.0.0.1 port, as the user
// "nobody" when the test runs as root (postgres refuses root), and stops and removes the
// cluster when the test ends.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin, err := postgresBin()
	if err != nil {
		Unavailable(t, "%v", err)
	}
	dir, err := os.MkdirTemp("", "reprobuild-pg-")
	if err != nil {
		t.Fatal(err)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			Unavailable(t, "postgres refuses to run as root and there is no user nobody: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) error {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C", "TZ=UTC"}
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	if err := run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"); err != nil {
		os.RemoveAll(dir)
		Unavailable(t, "%v", err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200", port, dir)
	if err := run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "120", "start"); err != nil {
		logs, _ := os.ReadFile(filepath.Join(dir, "log"))
		os.RemoveAll(dir)
		Unavailable(t, "%v\n%s", err, logs)
	}
	t.Cleanup(func() {
		if err := run("pg_ctl", "-D", data, "-m", "immediate", "-w", "-t", "60", "stop"); err != nil {
			t.Logf("stopping postgres: %v", err)
		}
		os.RemoveAll(dir)
	})
	pg := &Postgres{port: port}
	// The server accepts connections once pg_ctl -w returns; this checks it end to end.
	deadline := time.Now().Add(60 * time.Second)
	for {
		db, err := sql.Open("pgx", pg.dsn("postgres"))
		if err == nil {
			err = db.Ping()
			db.Close()
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres on 127.0.0.1:%d: %v", port, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return pg
}

func (p *Postgres) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

// NewDatabase creates an empty database and returns its URL.
func (p *Postgres) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test_%d", p.dbs.Add(1))
	db, err := sql.Open("pgx", p.dsn("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	return p.dsn(name)
}
