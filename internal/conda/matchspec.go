package conda

import (
	"fmt"
)

// MatchSpec is a parsed conda match spec (conda/models/match_spec.py): a query over
// package records such as "conda-forge::numpy >=1.26,<2 py311*" or
// "numpy[version='>=1.8',build_number='>=3']".
//
// Fields hold the spec's constraints in conda's normalised form; an empty string (or
// a zero VersionSpec) means the field is unconstrained — Has tells the two apart.
// Build a MatchSpec with ParseMatchSpec and treat its fields as read-only: matching
// uses matchers compiled from them at parse time.
type MatchSpec struct {
	// Name is the package name in lower case; it may be "*" or a glob ("py*").
	Name string
	// Version is the version constraint; String gives conda's normalised form.
	Version VersionSpec
	// Build is the build string: exact, a glob with '*', or a "^...$" regex.
	Build string
	// BuildNumber is an integer, an operator expression ("<3", ">=7") or "*".
	BuildNumber string
	// Channel is the channel as conda prints it: a canonical name ("conda-forge",
	// "defaults"), a base URL for channels outside the channel alias, or a pattern.
	Channel string
	// Subdir is the platform subdirectory ("linux-64", "noarch").
	Subdir        string
	MD5, SHA256   string
	License       string // lower case; glob allowed
	LicenseFamily string // lower case; glob allowed
	Fn, URL       string
	TrackFeatures []string // sorted
	Features      []string // sorted
	// Optional and Target come from conda's legacy "(optional, target=...)" syntax and
	// keyword brackets; they do not affect matching.
	Optional bool
	Target   string

	has      fieldMask
	name     strMatcher
	build    strMatcher
	bn       buildNumberMatcher
	chn      channelMatcher
	license  strMatcher
	licFam   strMatcher
	extras   []string
	flags    []string
	when     string
	opts     *parseOptions
	original string
}

type fieldMask uint32

const (
	fChannel fieldMask = 1 << iota
	fSubdir
	fName
	fVersion
	fBuild
	fBuildNumber
	fTrackFeatures
	fFeatures
	fURL
	fMD5
	fSHA256
	fLicense
	fLicenseFamily
	fFn
	fWhen
	fExtras
	fFlags
)

// fieldOrder is conda's MatchSpec.FIELD_NAMES: the order of keys in the canonical string.
var fieldOrder = []struct {
	name string
	bit  fieldMask
}{
	{"channel", fChannel}, {"subdir", fSubdir}, {"name", fName}, {"version", fVersion},
	{"build", fBuild}, {"build_number", fBuildNumber}, {"track_features", fTrackFeatures},
	{"features", fFeatures}, {"url", fURL}, {"md5", fMD5}, {"sha256", fSHA256},
	{"license", fLicense}, {"license_family", fLicenseFamily}, {"fn", fFn},
	{"when", fWhen}, {"extras", fExtras}, {"flags", fFlags},
}

func fieldBit(name string) (fieldMask, bool) {
	for _, f := range fieldOrder {
		if f.name == name {
			return f.bit, true
		}
	}
	return 0, false
}

// Has reports whether the spec constrains the named field (conda's field names:
// "name", "version", "build", "build_number", "channel", "subdir", "md5", ...).
func (m MatchSpec) Has(field string) bool {
	b, ok := fieldBit(field)
	return ok && m.has&b != 0
}

// Original returns the text the spec was parsed from.
func (m MatchSpec) Original() string { return m.original }

// MatchSpecError reports a match spec conda rejects.
type MatchSpecError struct {
	Spec   string
	Reason string
	Err    error // the underlying version or version spec error, if any
}

func (e *MatchSpecError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("invalid match spec %q: %v", e.Spec, e.Err)
	}
	return fmt.Sprintf("invalid match spec %q: %s", e.Spec, e.Reason)
}

func (e *MatchSpecError) Unwrap() error { return e.Err }
