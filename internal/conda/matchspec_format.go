package conda

import (
	"strings"
)

// This file formats MatchSpecs back into conda's string forms.

// String returns conda's canonical form of the spec, e.g. "conda-forge::numpy=1.7",
// "numpy==1.7.1=py27_0" or "numpy[version='>=1.8,<2',build=py37*]".
func (m MatchSpec) String() string {
	var b strings.Builder
	var brackets []string
	h := m.has
	chExact := h&fChannel != 0 && m.chn.exact()
	if chExact {
		b.WriteString(m.chn.text)
	} else if h&fChannel != 0 && !m.chn.all {
		brackets = append(brackets, "channel="+m.chn.text)
	}
	if h&fSubdir != 0 {
		if chExact {
			b.WriteString("/" + m.Subdir)
		} else {
			brackets = append(brackets, "subdir="+m.Subdir)
		}
	}
	name := "*"
	if h&fName != 0 {
		name = m.Name
	}
	if b.Len() > 0 {
		b.WriteString("::")
	}
	b.WriteString(name)

	versionExact := false
	if h&fVersion != 0 {
		v := m.Version.String()
		switch {
		case strings.ContainsAny(v, "><$^|,"):
			brackets = append(brackets, "version='"+v+"'")
		case strings.HasPrefix(v, "!=") || strings.HasPrefix(v, "~="):
			if h&fBuild != 0 {
				brackets = append(brackets, "version='"+v+"'")
			} else {
				b.WriteString(v)
			}
		case strings.HasSuffix(v, ".*"):
			b.WriteString("=" + v[:len(v)-2])
		case v == "*":
		case strings.HasSuffix(v, "*"):
			b.WriteString("=" + v[:len(v)-1])
		case strings.HasPrefix(v, "=="):
			b.WriteString(v)
			versionExact = true
		default:
			b.WriteString("==" + v)
			versionExact = true
		}
	}
	if h&fBuild != 0 {
		bs := m.Build
		switch {
		case strings.ContainsAny(bs, "><$^|,"):
			brackets = append(brackets, "build='"+bs+"'")
		case strings.Contains(bs, "*"):
			brackets = append(brackets, "build="+bs)
		case versionExact:
			b.WriteString("=" + bs)
		default:
			brackets = append(brackets, "build="+bs)
		}
	}
	skipFn := h&fURL != 0 && h&fFn != 0
	for _, f := range fieldOrder {
		if h&f.bit == 0 {
			continue
		}
		var v string
		switch f.bit {
		case fChannel, fSubdir, fName, fVersion, fBuild:
			continue
		case fFn:
			if skipFn {
				continue
			}
			v = m.Fn
		case fURL:
			if h&fChannel != 0 {
				continue
			}
			v = m.URL
		case fBuildNumber:
			v = m.BuildNumber
		case fTrackFeatures:
			v = strings.Join(m.TrackFeatures, " ")
		case fFeatures:
			v = strings.Join(m.Features, " ")
		case fMD5:
			v = m.MD5
		case fSHA256:
			v = m.SHA256
		case fLicense:
			v = m.License
		case fLicenseFamily:
			v = m.LicenseFamily
		case fWhen:
			v = m.when
		case fExtras, fFlags:
			l := m.extras
			if f.bit == fFlags {
				l = m.flags
			}
			q := make([]string, len(l))
			for i, s := range l {
				q[i] = "'" + s + "'"
			}
			brackets = append(brackets, f.name+"=["+strings.Join(q, ", ")+"]")
			continue
		}
		if strings.ContainsAny(v, ", =") {
			brackets = append(brackets, f.name+"='"+v+"'")
		} else {
			brackets = append(brackets, f.name+"="+v)
		}
	}
	if len(brackets) > 0 {
		b.WriteString("[" + strings.Join(brackets, ",") + "]")
	}
	return b.String()
}

// ExactName returns the package name when the spec names exactly one package.
func (m MatchSpec) ExactName() (string, bool) {
	if m.has&fName == 0 || !m.name.exact() {
		return "", false
	}
	return m.Name, true
}

// ExactValue returns the value a field pins exactly, as conda's get_exact_value does:
// not for globs, regular expressions or ranges.
func (m MatchSpec) ExactValue(field string) (string, bool) {
	b, ok := fieldBit(field)
	if !ok || m.has&b == 0 {
		return "", false
	}
	switch b {
	case fName:
		return m.Name, m.name.exact()
	case fVersion:
		return m.Version.String(), m.Version.IsExact()
	case fBuild:
		return m.Build, m.build.exact()
	case fChannel:
		return m.Channel, m.chn.exact()
	case fSubdir:
		return m.Subdir, true
	case fMD5:
		return m.MD5, true
	case fSHA256:
		return m.SHA256, true
	case fFn:
		return m.Fn, true
	case fURL:
		return m.URL, true
	case fBuildNumber:
		return m.BuildNumber, m.bn.kind == bnExact
	}
	return "", false
}

// CondaBuildForm returns the "name version build" form conda-build uses; it needs an
// exact name.
func (m MatchSpec) CondaBuildForm() (string, error) {
	name, ok := m.ExactValue("name")
	if !ok || name == "" {
		return "", &MatchSpecError{Spec: m.original, Reason: "the build form needs an exact package name"}
	}
	parts := []string{name}
	version := ""
	if m.has&fVersion != 0 {
		version = m.Version.String()
	}
	switch {
	case m.has&fBuild != 0:
		if version == "" {
			version = "*"
		}
		parts = append(parts, version, m.Build)
	case version != "":
		parts = append(parts, version)
	}
	return strings.Join(parts, " "), nil
}

// CondaEnvForm returns the "name=version=build" form of conda env export: the canonical
// string without channel and with "==" written "=".
func (m MatchSpec) CondaEnvForm() string {
	s := m.String()
	if _, after, ok := strings.Cut(s, "::"); ok {
		s = after
	}
	return strings.Replace(s, "==", "=", 1)
}
