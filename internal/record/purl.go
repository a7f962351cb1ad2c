package record

import (
	"net/url"
	"strings"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// PURL is the package URL of a conda package, per the purl specification's conda type:
// pkg:conda/NAME@VERSION?build=B&channel=C&subdir=S&type=conda|tar.bz2, qualifiers in
// key order. Channels on anaconda.org are named as users know them (conda-forge, main);
// any other channel is given by its URL so the purl still says where the package came
// from. name (the recipe's channel name) is used only when the record has no channel URL.
func PURL(p conda.PackageRecord, name string) string {
	var b strings.Builder
	b.WriteString("pkg:conda/")
	b.WriteString(escape(strings.ToLower(p.Name)))
	if p.Version != "" {
		b.WriteString("@")
		b.WriteString(escape(p.Version))
	}
	var q []string
	if p.Build != "" {
		q = append(q, "build="+escape(p.Build))
	}
	ch := purlChannel(p.Channel)
	if ch == "" {
		ch = name
	}
	if ch != "" {
		q = append(q, "channel="+escape(ch))
	}
	if p.Subdir != "" {
		q = append(q, "subdir="+escape(p.Subdir))
	}
	switch {
	case strings.HasSuffix(p.Fn, ".conda"):
		q = append(q, "type=conda")
	case strings.HasSuffix(p.Fn, ".tar.bz2"):
		q = append(q, "type=tar.bz2")
	}
	if len(q) > 0 {
		b.WriteString("?")
		b.WriteString(strings.Join(q, "&"))
	}
	return b.String()
}

// purlChannel shortens well-known channel URLs to the names conda users write.
func purlChannel(ch string) string {
	ch = strings.TrimSuffix(StripCredentials(ch), "/")
	u, err := url.Parse(ch)
	if err != nil || u.Host == "" {
		return ch
	}
	path := strings.Trim(u.Path, "/")
	switch u.Host {
	case "conda.anaconda.org", "anaconda.org":
		if path != "" {
			return path
		}
	case "repo.anaconda.com":
		if rest, ok := strings.CutPrefix(path, "pkgs/"); ok && rest != "" {
			return rest
		}
	}
	return ch
}

// escape percent-encodes everything but the purl spec's unreserved characters.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// StripCredentials removes user information, conda token path segments ("/t/TOKEN") and
// query strings (signed URLs carry tokens there) from a URL so no secret ever reaches a
// record, label or SBOM. Strings that are not URLs are returned unchanged, and so are
// URLs with nothing to remove.
func StripCredentials(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	// Userinfo goes first and textually, so even a URL that does not parse loses it.
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if j := strings.LastIndex(rest[:end], "@"); j >= 0 {
		s = s[:i+3] + rest[j+1:]
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" {
		return s
	}
	if !strings.HasPrefix(u.Path, "/t/") && u.RawQuery == "" && u.Fragment == "" && !u.ForceQuery {
		return s
	}
	u.User = nil
	u.ForceQuery = false
	if strings.HasPrefix(u.Path, "/t/") {
		parts := strings.SplitN(u.Path, "/", 4)
		if len(parts) == 4 {
			u.Path = "/" + parts[3]
		} else {
			u.Path = "/"
		}
		u.RawPath = ""
	}
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}
