package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/record"
)

// AuditOptions configure Audit.
type AuditOptions struct {
	// Vars are --var values for the recipe's variables.
	Vars map[string]string
	// VendorDir is a `reprobuild vendor` directory that backs the lock, or "".
	VendorDir string
	// LinkScripts maps package names to the link scripts they carry, when the caller has
	// looked into the package archives; nil when unknown.
	LinkScripts map[string][]string
}

// Audit reads the recipe at path and its lock (a missing lock is a finding, not an
// error), checks whether the lock is stale, and returns the four-step report. Errors are
// only for what stops the audit itself: an invalid recipe, an unreadable lock, a vendor
// directory that does not exist.
func Audit(path string, o AuditOptions) (*record.Report, error) {
	r, err := LoadRecipe(path, o.Vars)
	if err != nil {
		return nil, err
	}
	in := record.AuditInput{Recipe: r, VendorDir: o.VendorDir, LinkScripts: o.LinkScripts}
	l, err := LoadLock(r)
	var missing *MissingLockError
	switch {
	case errors.As(err, &missing):
	case err != nil:
		return nil, err
	default:
		in.Lock = l
		// lock.Check mixes staleness with the lock's own problems; the audit reports them
		// apart, and finds packages without sha256 itself.
		problems := lock.Problems(l)
		var stale *lock.StaleError
		if err := CheckLock(r, l); errors.As(err, &stale) {
			for _, reason := range stale.Reasons {
				if !slices.Contains(problems, reason) {
					in.StaleReasons = append(in.StaleReasons, reason)
				}
			}
		} else if err != nil {
			return nil, err
		}
		in.LockStale = len(in.StaleReasons) > 0
		for _, p := range problems {
			if !strings.HasSuffix(p, " has no sha256") {
				in.LockProblems = append(in.LockProblems, p)
			}
		}
	}
	if o.VendorDir != "" {
		st, err := os.Stat(o.VendorDir)
		if err != nil || !st.IsDir() {
			return nil, fmt.Errorf("audit: vendor directory %s not found: create it with `reprobuild vendor %s` or drop --vendor", o.VendorDir, o.VendorDir)
		}
	}
	return record.Audit(in), nil
}

// LockFileHash is the sha256 (hex) of the recipe's lock file bytes, the lock hash a
// runtime record carries.
func LockFileHash(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("hashing lock: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
