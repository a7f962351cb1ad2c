// Package catalog is the team catalogue behind `reprobuild serve`: a store of
// namespaces, environments and versions (recipe, lock, builds, runtime record, SBOMs,
// audit) in SQLite or PostgreSQL with versioned migrations, a JSON API under /api/v1
// with namespace-scoped tokens and roles, an audit log of every change, a bounded worker
// pool that locks and builds submitted recipes, and a server-rendered web page.
//
// Locking and building are not done here: the caller (cmd/reprobuild) injects a Builder
// that calls the builder package, so this package stays below builder in the layers.
// Wall-clock time comes from Options.Now; the environment is never read.
//
// It may import the standard library, recipes (to check submitted recipes and render
// their diagnostics exactly as the CLI does), internal/lock (to diff versions), the
// SQLite driver modernc.org/sqlite and the PostgreSQL driver github.com/jackc/pgx/v5.
package catalog
