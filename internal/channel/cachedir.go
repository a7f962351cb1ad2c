package channel

import (
	"path/filepath"
	"strings"
)

// DefaultCacheDir picks the cache root from an environment (as os.Environ gives it)
// and the user's home directory: $REPROBUILD_CACHE, else $XDG_CACHE_HOME/reprobuild,
// else HOME/.cache/reprobuild. The caller reads the environment; this stays pure.
func DefaultCacheDir(environ []string, home string) string {
	get := func(k string) string {
		v := ""
		for _, kv := range environ {
			if name, val, ok := strings.Cut(kv, "="); ok && name == k {
				v = val // the last assignment wins, as in a shell
			}
		}
		return v
	}
	if v := get("REPROBUILD_CACHE"); v != "" {
		return v
	}
	// XDG says a relative XDG_CACHE_HOME is invalid and must be ignored.
	if v := get("XDG_CACHE_HOME"); v != "" && filepath.IsAbs(v) {
		return filepath.Join(v, "reprobuild")
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".cache", "reprobuild")
}
