package channel

import (
	"fmt"
	"strings"
)

// HashMismatchError is a downloaded file whose digest differs from the record's.
type HashMismatchError struct {
	Package   string // name-version-build
	URL       string // redacted
	Algorithm string // sha256 or md5
	Expected  string
	Actual    string
}

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("%s from %s: %s mismatch: expected %s, got %s; the file was not cached (a corrupt mirror or a changed package: relock or fix the mirror)",
		e.Package, e.URL, e.Algorithm, e.Expected, e.Actual)
}

// StatusError is an HTTP response that is not a success.
type StatusError struct {
	URL    string // redacted
	Status int
}

func (e *StatusError) Error() string {
	hint := ""
	switch e.Status {
	case 401, 403:
		hint = " (check REPROBUILD_AUTH_<HOST> or the credentials file)"
	case 404:
		hint = " (not on this server)"
	}
	return fmt.Sprintf("GET %s: HTTP %d%s", e.URL, e.Status, hint)
}

// permanent reports whether retrying the same URL cannot help.
func (e *StatusError) permanent() bool {
	return e.Status >= 400 && e.Status < 500 && e.Status != 408 && e.Status != 429
}

// OfflineError is something offline mode needed but the cache does not hold.
type OfflineError struct {
	What string // package or repodata, with its redacted URL
}

func (e *OfflineError) Error() string {
	return fmt.Sprintf("offline: %s is not in the cache; run once online, use a file:// channel, or vendor the packages", e.What)
}

// MissingHashError is a record without sha256: nothing unverified is ever used.
type MissingHashError struct {
	Package string
	URL     string
}

func (e *MissingHashError) Error() string {
	return fmt.Sprintf("%s (%s) has no sha256; reprobuild only uses verified files: relock so the lock records it", e.Package, e.URL)
}

// FetchError is a file that no location could deliver; Attempts lists each failure in
// order, and Last is the final one (errors.As reaches it).
type FetchError struct {
	What     string
	Attempts []error
}

func (e *FetchError) Error() string {
	// Every location tried is named (once per distinct failure), so a broken primary
	// is not hidden behind the last mirror's error.
	var b strings.Builder
	fmt.Fprintf(&b, "fetching %s failed after %d attempt(s) at every location", e.What, len(e.Attempts))
	seen := map[string]bool{}
	shown := 0
	for _, a := range e.Attempts {
		msg := a.Error()
		if seen[msg] {
			continue
		}
		seen[msg] = true
		if shown == 8 {
			b.WriteString("; ...")
			break
		}
		if shown == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(msg)
		shown++
	}
	return b.String()
}

// Unwrap gives every attempt's error, so errors.As finds a *HashMismatchError.
func (e *FetchError) Unwrap() []error { return e.Attempts }
