package install

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
)

// DefaultPlaceholder is the build prefix conda assumes when info/has_prefix names a file
// without a placeholder.
const DefaultPlaceholder = "/opt/anaconda1anaconda2anaconda3"

// maxShebang is the longest "#!" line the Linux kernel reads in full.
const maxShebang = 127

// ErrPadding is returned by ReplacePrefix when a binary placeholder is shorter than the
// new prefix.
var ErrPadding = errors.New("new prefix longer than placeholder in binary file")

// ReplacePrefix returns data with placeholder replaced by prefix the way conda does for a
// package built for subdir, in "text" or "binary" mode. In text mode on non-Windows
// subdirs a shebang that becomes too long or has a space in its interpreter path is
// rewritten to "#!/usr/bin/env NAME". In binary mode each NUL-terminated string that
// holds the placeholder keeps its length by NUL padding; a longer prefix is an error
// (ErrPadding). Like conda, the shebang step runs even when the placeholder does not
// occur. Binary files of Windows subdirs are left unchanged (pyzzer launchers are not
// handled).
func ReplacePrefix(data []byte, placeholder, prefix, mode, subdir string) ([]byte, error) {
	win := strings.HasPrefix(subdir, "win")
	ph := []byte(placeholder)
	if len(ph) == 0 {
		return data, nil
	}
	switch mode {
	case "binary":
		if win {
			return data, nil
		}
		return binaryReplace(data, ph, []byte(prefix))
	case "text", "":
	default:
		return nil, errors.New("unknown prefix replacement mode " + mode)
	}
	if win {
		prefix = strings.ReplaceAll(prefix, `\`, "/")
	}
	out := data
	if !win && strings.Contains(prefix, " ") {
		// An interpreter path with a space cannot work in a shebang: escape the space
		// there so the shebang step below turns it into /usr/bin/env.
		escaped := []byte(strings.ReplaceAll(prefix, " ", `\ `))
		var b bytes.Buffer
		for rest := data; len(rest) > 0; {
			line := rest[:lineEnd(rest)]
			rest = rest[len(line):]
			if bytes.HasPrefix(line, []byte("#!")) {
				line = bytes.ReplaceAll(line, ph, escaped)
			}
			b.Write(line)
		}
		out = b.Bytes()
	}
	out = bytes.ReplaceAll(out, ph, []byte(prefix))
	if !win {
		out = shortenShebang(out)
	}
	return out, nil
}

// lineEnd returns the length of the first line of b including its terminator, which is
// "\n", "\r\n" or "\r" (Python's bytes.splitlines).
func lineEnd(b []byte) int {
	for i, c := range b {
		switch c {
		case '\n':
			return i + 1
		case '\r':
			if i+1 < len(b) && b[i+1] == '\n' {
				return i + 2
			}
			return i + 1
		}
	}
	return len(b)
}

// shebangRE matches a first line "#!", optional spaces, an interpreter path (which may
// hold backslash-escaped spaces), and the rest of the line.
var shebangRE = regexp.MustCompile(`^(#! *(/(?:\\ |[^ \n\r\t])*)([^\n]*))`)

func shortenShebang(data []byte) []byte {
	if !bytes.HasPrefix(data, []byte("#!")) {
		return data
	}
	m := shebangRE.FindSubmatch(data)
	if m == nil {
		return data
	}
	whole, exe, rest := m[1], m[2], m[3]
	slash := bytes.LastIndexByte(exe, '/')
	dir, name := exe[:slash], exe[slash+1:]
	if len(whole) <= maxShebang && !bytes.Contains(dir, []byte(`\ `)) {
		return data
	}
	short := append([]byte("#!/usr/bin/env "), name...)
	short = append(short, rest...)
	return bytes.ReplaceAll(data, whole, short)
}

// binaryReplace rewrites, in place and at constant length, every run that starts with
// the placeholder and ends at the next NUL without a newline in between.
func binaryReplace(data, ph, prefix []byte) ([]byte, error) {
	out := make([]byte, 0, len(data))
	i := 0
	for {
		j := bytes.Index(data[i:], ph)
		if j < 0 {
			break
		}
		start := i + j
		end := start + len(ph)
		for end < len(data) && data[end] != 0 && data[end] != '\n' {
			end++
		}
		if end >= len(data) || data[end] != 0 {
			// No NUL before a newline or the end: conda leaves this occurrence alone.
			out = append(out, data[i:start+1]...)
			i = start + 1
			continue
		}
		run := data[start:end]
		n := bytes.Count(run, ph)
		pad := (len(ph) - len(prefix)) * n
		if pad < 0 {
			return nil, ErrPadding
		}
		out = append(out, data[i:start]...)
		out = append(out, bytes.ReplaceAll(run, ph, prefix)...)
		out = append(out, make([]byte, pad)...)
		i = end
	}
	return append(out, data[i:]...), nil
}
