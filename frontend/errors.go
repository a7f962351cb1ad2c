package frontend

import "fmt"

// MissingChecksumError reports a locked package or data source without a sha256:
// BuildKit could not verify what it downloads, so the build is refused.
type MissingChecksumError struct {
	What string // "package numpy-1.26.4-py311_0.conda" or "data weights"
	URL  string
}

func (e *MissingChecksumError) Error() string {
	return fmt.Sprintf("%s (%s) has no sha256 in the lock: relock with a channel that publishes sha256, or add sha256 to the recipe", e.What, e.URL)
}

// UnsupportedError reports an input the BuildKit engine cannot build (the embedded engine
// may still build it).
type UnsupportedError struct {
	What   string
	Reason string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("buildkit engine: %s: %s", e.What, e.Reason)
}
