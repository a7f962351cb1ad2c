package catalog

import "strings"

// migrations are applied in order at start, each in its own transaction, and recorded
// in schema_migrations. Never edit one that has shipped: append a new one. The SQL is
// the subset SQLite and PostgreSQL share; {{id}} is the dialect's auto-increment key.
var migrations = []string{
	// 1: the model.
	`CREATE TABLE namespaces (
		id {{id}},
		name TEXT NOT NULL UNIQUE,
		created_at TEXT NOT NULL
	);
	CREATE TABLE environments (
		id {{id}},
		namespace_id BIGINT NOT NULL REFERENCES namespaces(id),
		name TEXT NOT NULL,
		last_version BIGINT NOT NULL DEFAULT 0,
		created_at TEXT NOT NULL,
		UNIQUE (namespace_id, name)
	);
	CREATE TABLE versions (
		id {{id}},
		environment_id BIGINT NOT NULL REFERENCES environments(id),
		number BIGINT NOT NULL,
		filename TEXT NOT NULL,
		recipe TEXT NOT NULL,
		lock TEXT NOT NULL DEFAULT '',
		status TEXT NOT NULL,
		submitted_by TEXT NOT NULL,
		created_at TEXT NOT NULL,
		audit TEXT NOT NULL DEFAULT '',
		UNIQUE (environment_id, number)
	);
	CREATE TABLE builds (
		id {{id}},
		version_id BIGINT NOT NULL REFERENCES versions(id),
		engine TEXT NOT NULL,
		status TEXT NOT NULL,
		digest TEXT NOT NULL DEFAULT '',
		error TEXT NOT NULL DEFAULT '',
		started_at TEXT NOT NULL DEFAULT '',
		finished_at TEXT NOT NULL DEFAULT '',
		duration_ms BIGINT NOT NULL DEFAULT 0
	);
	CREATE INDEX builds_version ON builds(version_id);
	CREATE TABLE artifacts (
		version_id BIGINT NOT NULL REFERENCES versions(id),
		name TEXT NOT NULL,
		sha256 TEXT NOT NULL,
		size BIGINT NOT NULL,
		PRIMARY KEY (version_id, name)
	);
	CREATE TABLE tokens (
		id {{id}},
		name TEXT NOT NULL,
		hash TEXT NOT NULL UNIQUE,
		namespace TEXT NOT NULL,
		role TEXT NOT NULL,
		created_by TEXT NOT NULL,
		created_at TEXT NOT NULL,
		revoked INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE audit_log (
		id {{id}},
		at TEXT NOT NULL,
		actor TEXT NOT NULL,
		action TEXT NOT NULL,
		namespace TEXT NOT NULL,
		subject TEXT NOT NULL,
		detail TEXT NOT NULL DEFAULT ''
	);`,
	// 2: what a build pushed to the registry beside its image (the recipe and lock
	// artifact, the SBOM referrers), each pinned by digest.
	`CREATE TABLE registry_artifacts (
		build_id BIGINT NOT NULL REFERENCES builds(id),
		name TEXT NOT NULL,
		artifact_type TEXT NOT NULL,
		ref TEXT NOT NULL,
		subject TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (build_id, name)
	);`,
}

func (d dialect) migration(i int) []string {
	sql := strings.ReplaceAll(migrations[i], "{{id}}", d.idType())
	var out []string
	for _, s := range strings.Split(sql, ";") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
