package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
)

// Environment is one row of the environment list: its latest version and status.
type Environment struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Latest    int64  `json:"latest_version"`
	Status    string `json:"status"`
	Digest    string `json:"digest,omitempty"`
	UpdatedAt string `json:"updated_at"`
}

// Version is a recipe plus what the server made of it.
type Version struct {
	ID          int64      `json:"-"`
	Namespace   string     `json:"namespace"`
	Environment string     `json:"environment"`
	Number      int64      `json:"number"`
	Filename    string     `json:"filename"`
	Recipe      string     `json:"recipe"`
	Lock        string     `json:"lock"`
	Status      string     `json:"status"`
	SubmittedBy string     `json:"submitted_by"`
	CreatedAt   string     `json:"created_at"`
	Audit       []Step     `json:"audit,omitempty"`
	Builds      []Build    `json:"builds"`
	Artifacts   []Artifact `json:"artifacts"`
}

// Build is one build of a version.
type Build struct {
	ID         int64  `json:"id"`
	Engine     string `json:"engine"`
	Status     string `json:"status"`
	Digest     string `json:"digest,omitempty"`
	Error      string `json:"error,omitempty"`
	StartedAt  string `json:"started_at,omitempty"`
	FinishedAt string `json:"finished_at,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	// Registry is what the build pushed to the registry beside its image (with
	// serve --registry): the recipe and lock artifact and the SBOM referrers.
	Registry []RegistryArtifact `json:"registry,omitempty"`
}

// RegistryArtifact is an OCI artifact a build pushed, pinned by digest.
type RegistryArtifact struct {
	// Name is the document's name: "reprobuild.lock" for the recipe and lock artifact,
	// PLATFORM-FILE for an SBOM (as the version's artifacts are named).
	Name         string `json:"name"`
	ArtifactType string `json:"artifact_type"`
	// Ref is REPOSITORY@sha256:... of the artifact's manifest.
	Ref string `json:"ref"`
	// Subject is the digest of the image (or platform image) it refers to.
	Subject string `json:"subject,omitempty"`
}

// Artifact is a file a build produced (REPRODUCE.md, runtime records, SBOMs), kept under
// DIR/artifacts by content hash.
type Artifact struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID        int64  `json:"id"`
	At        string `json:"at"`
	Actor     string `json:"actor"`
	Action    string `json:"action"`
	Namespace string `json:"namespace"`
	Subject   string `json:"subject"`
	Detail    string `json:"detail,omitempty"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// ValidName checks a namespace or environment name.
func ValidName(kind, name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%s name %q: use 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit", kind, name)
	}
	return nil
}

// CreateVersion records a submitted recipe as the next version of ns/env (creating both
// when new) with a queued build, and logs who did it. Version numbers come from one
// counter row updated inside the transaction, so concurrent submissions never share or
// skip a number.
func (s *Store) CreateVersion(ctx context.Context, ns, env, filename, recipe, actor, engine string) (*Version, error) {
	if err := ValidName("namespace", ns); err != nil {
		return nil, err
	}
	if err := ValidName("environment", env); err != nil {
		return nil, err
	}
	v := &Version{Namespace: ns, Environment: env, Filename: filename, Recipe: recipe, Status: StatusQueued, SubmittedBy: actor, CreatedAt: s.stamp()}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO namespaces (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`), ns, v.CreatedAt); err != nil {
			return err
		}
		var nsID int64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM namespaces WHERE name = ?`), ns).Scan(&nsID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO environments (namespace_id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (namespace_id, name) DO NOTHING`), nsID, env, v.CreatedAt); err != nil {
			return err
		}
		var envID int64
		if err := tx.QueryRowContext(ctx, s.q(`UPDATE environments SET last_version = last_version + 1 WHERE namespace_id = ? AND name = ? RETURNING id, last_version`), nsID, env).Scan(&envID, &v.Number); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO versions (environment_id, number, filename, recipe, status, submitted_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			envID, v.Number, filename, recipe, StatusQueued, actor, v.CreatedAt).Scan(&v.ID); err != nil {
			return err
		}
		b := Build{Engine: engine, Status: StatusQueued}
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO builds (version_id, engine, status) VALUES (?, ?, ?) RETURNING id`), v.ID, engine, StatusQueued).Scan(&b.ID); err != nil {
			return err
		}
		v.Builds = []Build{b}
		return s.logTx(ctx, tx, actor, "submit", ns, fmt.Sprintf("%s/%s@%d", ns, env, v.Number), filename)
	})
	if err != nil {
		return nil, fmt.Errorf("recording version of %s/%s: %w", ns, env, err)
	}
	return v, nil
}

func (s *Store) logTx(ctx context.Context, tx *sql.Tx, actor, action, ns, subject, detail string) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO audit_log (at, actor, action, namespace, subject, detail) VALUES (?, ?, ?, ?, ?, ?)`), s.stamp(), actor, action, ns, subject, detail)
	return err
}

// Log appends one line to the audit log.
func (s *Store) Log(ctx context.Context, actor, action, ns, subject, detail string) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return s.logTx(ctx, tx, actor, action, ns, subject, detail) })
}

// AuditLog returns the newest entries first, at most limit.
func (s *Store) AuditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, at, actor, action, namespace, subject, detail FROM audit_log ORDER BY id DESC LIMIT ?`), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Namespace, &e.Subject, &e.Detail); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Environments lists the environments of the namespaces a scope may see (every one for
// "*"), sorted by namespace and name, each with its latest version's status and digest.
func (s *Store) Environments(ctx context.Context, namespace string) ([]Environment, error) {
	query := `SELECT n.name, e.name, e.last_version, COALESCE(v.status, ''), COALESCE(b.digest, ''), COALESCE(v.created_at, e.created_at)
		FROM environments e
		JOIN namespaces n ON n.id = e.namespace_id
		LEFT JOIN versions v ON v.environment_id = e.id AND v.number = e.last_version
		LEFT JOIN builds b ON b.id = (SELECT MAX(id) FROM builds WHERE version_id = v.id)`
	var args []any
	if namespace != "*" {
		query += ` WHERE n.name = ?`
		args = append(args, namespace)
	}
	query += ` ORDER BY n.name, e.name`
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Environment{}
	for rows.Next() {
		var e Environment
		if err := rows.Scan(&e.Namespace, &e.Name, &e.Latest, &e.Status, &e.Digest, &e.UpdatedAt); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Versions lists an environment's versions, newest first, without recipe and lock text.
func (s *Store) Versions(ctx context.Context, ns, env string) ([]Version, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT v.id, v.number, v.filename, v.status, v.submitted_by, v.created_at, COALESCE(b.digest, '')
		FROM versions v JOIN environments e ON e.id = v.environment_id JOIN namespaces n ON n.id = e.namespace_id
		LEFT JOIN builds b ON b.id = (SELECT MAX(id) FROM builds WHERE version_id = v.id)
		WHERE n.name = ? AND e.name = ? ORDER BY v.number DESC`), ns, env)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		v := Version{Namespace: ns, Environment: env}
		var digest string
		if err := rows.Scan(&v.ID, &v.Number, &v.Filename, &v.Status, &v.SubmittedBy, &v.CreatedAt, &digest); err != nil {
			return nil, err
		}
		v.Builds = []Build{{Digest: digest, Status: v.Status}}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, nil
}

// GetVersion returns a version with its builds and artifacts; number 0 is the latest.
func (s *Store) GetVersion(ctx context.Context, ns, env string, number int64) (*Version, error) {
	v := &Version{Namespace: ns, Environment: env}
	var audit string
	query := `SELECT v.id, v.number, v.filename, v.recipe, v.lock, v.status, v.submitted_by, v.created_at, v.audit
		FROM versions v JOIN environments e ON e.id = v.environment_id JOIN namespaces n ON n.id = e.namespace_id
		WHERE n.name = ? AND e.name = ? AND v.number = `
	args := []any{ns, env}
	if number > 0 {
		query += `?`
		args = append(args, number)
	} else {
		query += `e.last_version`
	}
	err := s.db.QueryRowContext(ctx, s.q(query), args...).Scan(&v.ID, &v.Number, &v.Filename, &v.Recipe, &v.Lock, &v.Status, &v.SubmittedBy, &v.CreatedAt, &audit)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if audit != "" {
		if v.Audit, err = decodeSteps(audit); err != nil {
			return nil, err
		}
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, engine, status, digest, error, started_at, finished_at, duration_ms FROM builds WHERE version_id = ? ORDER BY id`), v.ID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var b Build
		if err := rows.Scan(&b.ID, &b.Engine, &b.Status, &b.Digest, &b.Error, &b.StartedAt, &b.FinishedAt, &b.DurationMS); err != nil {
			rows.Close()
			return nil, err
		}
		v.Builds = append(v.Builds, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := s.registryArtifacts(ctx, v); err != nil {
		return nil, err
	}
	v.Artifacts = []Artifact{}
	rows, err = s.db.QueryContext(ctx, s.q(`SELECT name, sha256, size FROM artifacts WHERE version_id = ? ORDER BY name`), v.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var a Artifact
		if err := rows.Scan(&a.Name, &a.SHA256, &a.Size); err != nil {
			return nil, err
		}
		v.Artifacts = append(v.Artifacts, a)
	}
	return v, rows.Err()
}

// registryArtifacts fills in what each build of v pushed to the registry.
func (s *Store) registryArtifacts(ctx context.Context, v *Version) error {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT r.build_id, r.name, r.artifact_type, r.ref, r.subject FROM registry_artifacts r
		JOIN builds b ON b.id = r.build_id WHERE b.version_id = ? ORDER BY r.build_id, r.name`), v.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var a RegistryArtifact
		if err := rows.Scan(&id, &a.Name, &a.ArtifactType, &a.Ref, &a.Subject); err != nil {
			return err
		}
		for i := range v.Builds {
			if v.Builds[i].ID == id {
				v.Builds[i].Registry = append(v.Builds[i].Registry, a)
			}
		}
	}
	return rows.Err()
}

// ErrBusy is returned for a rebuild of a version whose build has not finished.
var ErrBusy = errors.New("a build of this version is still queued or running")

// CreateBuild queues another build of an existing version from its recorded recipe and
// lock (a rebuild: does it still build, and to the same digest?), and logs who asked.
func (s *Store) CreateBuild(ctx context.Context, ns, env string, number int64, actor, engine string) (*job, error) {
	j := &job{Namespace: ns, Env: env, Number: number}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var status string
		err := tx.QueryRowContext(ctx, s.q(`SELECT v.id, v.filename, v.recipe, v.lock, v.status
			FROM versions v JOIN environments e ON e.id = v.environment_id JOIN namespaces n ON n.id = e.namespace_id
			WHERE n.name = ? AND e.name = ? AND v.number = ?`), ns, env, number).Scan(&j.VersionID, &j.Filename, &j.Recipe, &j.Lock, &status)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if status == StatusQueued || status == StatusBuilding {
			return ErrBusy
		}
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO builds (version_id, engine, status) VALUES (?, ?, ?) RETURNING id`), j.VersionID, engine, StatusQueued).Scan(&j.BuildID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE versions SET status = ? WHERE id = ?`), StatusQueued, j.VersionID); err != nil {
			return err
		}
		return s.logTx(ctx, tx, actor, "rebuild", ns, fmt.Sprintf("%s/%s@%d", ns, env, number), fmt.Sprintf("build %d", j.BuildID))
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

// startBuild marks a queued build as building.
func (s *Store) startBuild(ctx context.Context, versionID, buildID int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE builds SET status = ?, started_at = ? WHERE id = ?`), StatusBuilding, s.stamp(), buildID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`UPDATE versions SET status = ? WHERE id = ?`), StatusBuilding, versionID)
		return err
	})
}

// finishBuild records a build's outcome, the lock, the audit, the artifacts and what
// the build pushed to the registry (b.Registry) in one transaction.
func (s *Store) finishBuild(ctx context.Context, versionID int64, b Build, lock string, audit string, arts []Artifact) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE builds SET status = ?, digest = ?, error = ?, finished_at = ?, duration_ms = ? WHERE id = ?`),
			b.Status, b.Digest, b.Error, s.stamp(), b.DurationMS, b.ID); err != nil {
			return err
		}
		// A rebuild keeps the version's lock and audit unless it made new ones.
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE versions SET status = ? WHERE id = ?`), b.Status, versionID); err != nil {
			return err
		}
		if lock != "" {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE versions SET lock = ? WHERE id = ?`), lock, versionID); err != nil {
				return err
			}
		}
		if audit != "" {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE versions SET audit = ? WHERE id = ?`), audit, versionID); err != nil {
				return err
			}
		}
		for _, a := range arts {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO artifacts (version_id, name, sha256, size) VALUES (?, ?, ?, ?) ON CONFLICT (version_id, name) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size`),
				versionID, a.Name, a.SHA256, a.Size); err != nil {
				return err
			}
		}
		for _, a := range b.Registry {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO registry_artifacts (build_id, name, artifact_type, ref, subject) VALUES (?, ?, ?, ?, ?)`),
				b.ID, a.Name, a.ArtifactType, a.Ref, a.Subject); err != nil {
				return err
			}
		}
		return nil
	})
}

// job is a queued build.
type job struct {
	VersionID, BuildID int64
	Namespace, Env     string
	Number             int64
	Filename, Recipe   string
	// Lock is the recorded lock of a rebuild ("" for a first build, which locks).
	Lock string
}

// recoverInterrupted marks builds left running by a server that stopped as failed, and
// returns the queued ones to run again.
func (s *Store) recoverInterrupted(ctx context.Context) (failed int64, queued []job, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE builds SET status = ?, error = ?, finished_at = ? WHERE status = ?`),
			StatusFailed, "interrupted: the server stopped during this build; submit the recipe again to retry", s.stamp(), StatusBuilding)
		if err != nil {
			return err
		}
		failed, _ = res.RowsAffected()
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE versions SET status = ? WHERE status = ?`), StatusFailed, StatusBuilding); err != nil {
			return err
		}
		if failed > 0 {
			return s.logTx(ctx, tx, "server", "recover", "", "builds", fmt.Sprintf("%d interrupted builds marked failed", failed))
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT v.id, b.id, n.name, e.name, v.number, v.filename, v.recipe, v.lock
		FROM builds b JOIN versions v ON v.id = b.version_id JOIN environments e ON e.id = v.environment_id JOIN namespaces n ON n.id = e.namespace_id
		WHERE b.status = ? ORDER BY b.id`), StatusQueued)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var j job
		if err := rows.Scan(&j.VersionID, &j.BuildID, &j.Namespace, &j.Env, &j.Number, &j.Filename, &j.Recipe, &j.Lock); err != nil {
			return 0, nil, err
		}
		queued = append(queued, j)
	}
	return failed, queued, rows.Err()
}
