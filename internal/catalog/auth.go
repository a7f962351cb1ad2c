package catalog

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
)

// Roles, weakest first.
const (
	RoleViewer = "viewer"
	RoleEditor = "editor"
	RoleAdmin  = "admin"
)

// AllNamespaces is the scope of a token that reaches every namespace.
const AllNamespaces = "*"

func roleRank(r string) int {
	switch r {
	case RoleViewer:
		return 1
	case RoleEditor:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Principal is who a token speaks for.
type Principal struct {
	TokenID   int64  `json:"id"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Role      string `json:"role"`
}

// Sees reports whether p may read namespace ns.
func (p *Principal) Sees(ns string) bool {
	return p != nil && (p.Namespace == AllNamespaces || p.Namespace == ns)
}

// Can reports whether p holds at least role in namespace ns.
func (p *Principal) Can(role, ns string) bool {
	return p.Sees(ns) && roleRank(p.Role) >= roleRank(role)
}

// Token is a token's metadata (never its secret).
type Token struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Role      string `json:"role"`
	CreatedBy string `json:"created_by"`
	CreatedAt string `json:"created_at"`
	Revoked   bool   `json:"revoked"`
}

func hashToken(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// CreateToken makes a token for namespace (or "*") with role and returns its secret,
// which is shown once and stored only as a hash.
func (s *Store) CreateToken(ctx context.Context, actor, name, namespace, role string) (string, *Token, error) {
	if roleRank(role) == 0 {
		return "", nil, fmt.Errorf("role %q: want viewer, editor or admin", role)
	}
	if namespace != AllNamespaces {
		if err := ValidName("namespace", namespace); err != nil {
			return "", nil, err
		}
	}
	if name == "" {
		return "", nil, fmt.Errorf("a token needs a name (who or what uses it)")
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, err
	}
	secret := "rbt_" + hex.EncodeToString(raw[:])
	t := &Token{Name: name, Namespace: namespace, Role: role, CreatedBy: actor, CreatedAt: s.stamp()}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO tokens (name, hash, namespace, role, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
			name, hashToken(secret), namespace, role, actor, t.CreatedAt).Scan(&t.ID); err != nil {
			return err
		}
		return s.logTx(ctx, tx, actor, "token.create", namespace, fmt.Sprintf("token %d (%s)", t.ID, name), role)
	})
	if err != nil {
		return "", nil, err
	}
	return secret, t, nil
}

// RevokeToken revokes a token by id.
func (s *Store) RevokeToken(ctx context.Context, actor string, id int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var ns, name string
		err := tx.QueryRowContext(ctx, s.q(`SELECT namespace, name FROM tokens WHERE id = ?`), id).Scan(&ns, &name)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE tokens SET revoked = 1 WHERE id = ?`), id); err != nil {
			return err
		}
		return s.logTx(ctx, tx, actor, "token.revoke", ns, fmt.Sprintf("token %d (%s)", id, name), "")
	})
}

// Tokens lists tokens within a scope.
func (s *Store) Tokens(ctx context.Context, namespace string) ([]Token, error) {
	query := `SELECT id, name, namespace, role, created_by, created_at, revoked FROM tokens`
	var args []any
	if namespace != AllNamespaces {
		query += ` WHERE namespace = ?`
		args = append(args, namespace)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY id`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		var t Token
		var revoked int
		if err := rows.Scan(&t.ID, &t.Name, &t.Namespace, &t.Role, &t.CreatedBy, &t.CreatedAt, &revoked); err != nil {
			return nil, err
		}
		t.Revoked = revoked != 0
		out = append(out, t)
	}
	return out, rows.Err()
}

// Authenticate returns the principal of a token secret, or nil for an unknown or revoked
// one.
func (s *Store) Authenticate(ctx context.Context, secret string) (*Principal, error) {
	if secret == "" {
		return nil, nil
	}
	p := &Principal{}
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, name, namespace, role FROM tokens WHERE hash = ? AND revoked = 0`), hashToken(secret)).Scan(&p.TokenID, &p.Name, &p.Namespace, &p.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// EnsureAdminToken creates the first admin token when the store has none and writes its
// secret to path with mode 0600. It reports whether it created one.
func (s *Store) EnsureAdminToken(ctx context.Context, path string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens`).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	secret, _, err := s.CreateToken(ctx, "server", "first admin", AllNamespaces, RoleAdmin)
	if err != nil {
		return false, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(secret+"\n"), 0o600); err != nil {
		return false, fmt.Errorf("writing the admin token: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // against a umask that widened nothing, and an old file
		return false, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("writing the admin token: %w", err)
	}
	return true, nil
}
