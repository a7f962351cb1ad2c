package conda

// PackageRecord is one package build as a channel's repodata.json describes it, plus the
// location it was found at. Field names follow repodata.json; the zero value of an
// optional field means the field was absent.
type PackageRecord struct {
	Name          string   `json:"name"`
	Version       string   `json:"version"`
	Build         string   `json:"build"`
	BuildNumber   int64    `json:"build_number"`
	Depends       []string `json:"depends,omitempty"`
	Constrains    []string `json:"constrains,omitempty"`
	TrackFeatures []string `json:"track_features,omitempty"`
	Features      string   `json:"features,omitempty"`
	Noarch        string   `json:"noarch,omitempty"` // "", "generic" or "python"
	Subdir        string   `json:"subdir"`
	License       string   `json:"license,omitempty"`
	LicenseFamily string   `json:"license_family,omitempty"`
	MD5           string   `json:"md5,omitempty"`
	SHA256        string   `json:"sha256,omitempty"`
	Size          int64    `json:"size,omitempty"`
	// Timestamp is in milliseconds since the Unix epoch; repodata that gives seconds is
	// normalised to milliseconds when decoded.
	Timestamp int64 `json:"timestamp,omitempty"`

	// Fn is the archive file name (".conda" or ".tar.bz2").
	Fn string `json:"fn"`
	// URL is the canonical download URL of the archive.
	URL string `json:"url,omitempty"`
	// Channel is the canonical channel URL the record came from (no subdir, no credentials).
	Channel string `json:"channel,omitempty"`
}
