package record

import (
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/reprobuild/reprobuild/internal/lock"
)

// PipInfo is one PyPI package of the runtime.
type PipInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	URL     string `json:"url"`
	SHA256  string `json:"sha256"`
	Index   string `json:"index,omitempty"`
	PURL    string `json:"purl"`
}

// PyPIPURL is the package URL of a PyPI distribution, per the purl specification's
// pypi type: pkg:pypi/NAME@VERSION with the name lower case and "_" as "-", the wheel's
// file name as file_name, and repository_url when the index is not pypi.org.
func PyPIPURL(p lock.PipPackage, indexURL string) string {
	var b strings.Builder
	b.WriteString("pkg:pypi/")
	b.WriteString(escape(strings.ReplaceAll(strings.ToLower(p.Name), "_", "-")))
	if p.Version != "" {
		b.WriteString("@")
		b.WriteString(escape(p.Version))
	}
	var q []string
	if u, err := url.Parse(p.URL); err == nil && u.Path != "" {
		q = append(q, "file_name="+escape(path.Base(u.Path)))
	}
	if indexURL != "" {
		iu := strings.TrimSuffix(StripCredentials(indexURL), "/")
		if iu != "https://pypi.org/simple" && iu != "https://pypi.python.org/simple" {
			q = append(q, "repository_url="+escape(iu))
		}
	}
	if len(q) > 0 {
		b.WriteString("?")
		b.WriteString(strings.Join(q, "&"))
	}
	return b.String()
}

// pipInfos lists a target's pip packages for the runtime record, sorted by name.
func pipInfos(l *lock.Lock, t *lock.Target) []PipInfo {
	idx := map[string]string{}
	for _, ix := range l.PyPI {
		idx[ix.Name] = ix.URL
	}
	var out []PipInfo
	for _, p := range t.Pip {
		out = append(out, PipInfo{Name: p.Name, Version: p.Version, URL: StripCredentials(p.URL), SHA256: p.SHA256,
			Index: p.Index, PURL: PyPIPURL(p, idx[p.Index])})
	}
	slices.SortFunc(out, func(a, b PipInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}
