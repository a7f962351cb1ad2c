package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// Status of a version or a build.
const (
	StatusQueued    = "queued"
	StatusBuilding  = "building"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

type dialect int

const (
	sqliteDialect dialect = iota
	postgresDialect
)

func (d dialect) idType() string {
	if d == postgresDialect {
		return "BIGSERIAL PRIMARY KEY"
	}
	return "INTEGER PRIMARY KEY AUTOINCREMENT"
}

// Store is the catalogue's metadata database.
type Store struct {
	db      *sql.DB
	dialect dialect
	now     func() time.Time
}

// ErrNotFound is returned for a namespace, environment or version that does not exist
// (or that the caller may not see).
var ErrNotFound = errors.New("not found")

// OpenStore opens (creating if needed) the metadata database and applies every pending
// migration. dbURL "" means SQLite at DIR/catalog.db; "postgres://..." is PostgreSQL;
// "sqlite:PATH" is SQLite at PATH.
func OpenStore(ctx context.Context, dbURL, dataDir string, now func() time.Time) (*Store, error) {
	s := &Store{now: now}
	var err error
	switch {
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		s.dialect = postgresDialect
		s.db, err = sql.Open("pgx", dbURL)
		if err == nil {
			s.db.SetMaxOpenConns(16)
			// database/sql keeps only 2 idle connections by default: under concurrent
			// reads every connection beyond those was closed after its query and a new
			// one dialled (TCP, startup, auth) for the next, which made the p99 of
			// API reads under 50 clients tens of milliseconds.
			s.db.SetMaxIdleConns(16)
		}
	case dbURL == "" || strings.HasPrefix(dbURL, "sqlite:"):
		path := strings.TrimPrefix(dbURL, "sqlite:")
		if path == "" {
			path = filepath.Join(dataDir, "catalog.db")
		}
		// WAL lets readers run beside the one writer; immediate transactions take the
		// write lock at BEGIN so two submissions never deadlock upgrading read locks.
		dsn := "file:" + path + "?_txlock=immediate&_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
		s.db, err = sql.Open("sqlite", dsn)
		if err == nil {
			s.db.SetMaxOpenConns(8)
			// Keep them all open: a new SQLite connection opens the file and applies
			// the pragmas again (see the PostgreSQL case).
			s.db.SetMaxIdleConns(8)
		}
	default:
		return nil, fmt.Errorf("--db %q: want postgres://USER@HOST:PORT/DB or sqlite:PATH (default: SQLite under --data)", redact(dbURL))
	}
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("connecting to database %s: %w", redact(dbURL), err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// redact hides a password in a database URL.
func redact(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if c := strings.Index(rest[:at], ":"); c >= 0 {
				return u[:i+3] + rest[:c] + ":xxx" + rest[at:]
			}
		}
	}
	return u
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// DB is the underlying database, for integrity checks in tests and tools.
func (s *Store) DB() *sql.DB { return s.db }

// Postgres reports whether the store is PostgreSQL.
func (s *Store) Postgres() bool { return s.dialect == postgresDialect }

func (s *Store) stamp() string { return s.now().UTC().Format(time.RFC3339Nano) }

// q rewrites ? placeholders to $N for PostgreSQL.
func (s *Store) q(query string) string {
	if s.dialect != postgresDialect {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	for i := range migrations {
		v := i + 1
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if s.dialect == postgresDialect {
				// Two servers starting at once against one database apply each
				// migration once.
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(727274)`); err != nil {
					return err
				}
			}
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for _, stmt := range s.dialect.migration(i) {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%w\n%s", err, stmt)
				}
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), v, s.stamp())
			return err
		})
		if err != nil {
			return fmt.Errorf("applying migration %d: %w", v, err)
		}
	}
	return nil
}

// SchemaVersion is the newest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
}

func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// IntegrityCheck runs the database's own consistency check and the catalogue's: no
// version number twice in an environment, no gap, every version with a build.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	if s.dialect == sqliteDialect {
		var res string
		if err := s.db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
			return err
		}
		if res != "ok" {
			return fmt.Errorf("sqlite integrity_check: %s", res)
		}
		rows, err := s.db.QueryContext(ctx, `PRAGMA foreign_key_check`)
		if err != nil {
			return err
		}
		bad := rows.Next()
		rows.Close()
		if bad {
			return fmt.Errorf("sqlite foreign_key_check found dangling references")
		}
	}
	var problems int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM environments e WHERE e.last_version <> (SELECT COUNT(*) FROM versions v WHERE v.environment_id = e.id)
		OR e.last_version <> COALESCE((SELECT MAX(number) FROM versions v WHERE v.environment_id = e.id), 0)`).Scan(&problems)
	if err != nil {
		return err
	}
	if problems > 0 {
		return fmt.Errorf("%d environments whose version numbers have gaps or duplicates", problems)
	}
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM versions v WHERE NOT EXISTS (SELECT 1 FROM builds b WHERE b.version_id = v.id)`).Scan(&problems)
	if err != nil {
		return err
	}
	if problems > 0 {
		return fmt.Errorf("%d versions without a build", problems)
	}
	return nil
}
