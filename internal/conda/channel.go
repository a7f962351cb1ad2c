package conda

import (
	"net/url"
	"path"
	"slices"
	"strings"
)

// ParseOption adjusts how ParseMatchSpec resolves channels and local paths.
type ParseOption func(*parseOptions)

type customChannel struct {
	name string
	ref  channelRef
	that string // joinURL(location, name)
}

type parseOptions struct {
	channelAlias channelRef
	// defaults are the members of the "defaults" multichannel.
	defaults []channelRef
	// custom maps a channel name to the channel that serves it.
	custom map[string]channelRef
	// customList holds the same channels, longest name first, with their
	// "location/name" precomputed for URL matching.
	customList []customChannel
	workDir    string
	homeDir    string
}

// Default channel settings are conda's out-of-the-box configuration on Unix.
const (
	DefaultChannelAlias = "https://conda.anaconda.org"
)

// DefaultChannels are the members of conda's "defaults" multichannel on Unix.
var defaultChannelURLs = []string{
	"https://repo.anaconda.com/pkgs/main",
	"https://repo.anaconda.com/pkgs/r",
}

// defaultOptions is conda's default configuration, built once and never modified.
var defaultOptions = buildParseOptions(nil)

func newParseOptions(opts []ParseOption) *parseOptions {
	if len(opts) == 0 {
		return defaultOptions
	}
	return buildParseOptions(opts)
}

func buildParseOptions(opts []ParseOption) *parseOptions {
	o := &parseOptions{workDir: "/"}
	o.setAlias(DefaultChannelAlias)
	o.setDefaults(defaultChannelURLs)
	for _, f := range opts {
		f(o)
	}
	return o
}

func (o *parseOptions) setAlias(alias string) {
	scheme, rest, ok := strings.Cut(strings.TrimRight(alias, "/"), "://")
	if !ok {
		scheme, rest = "https", alias
	}
	o.channelAlias = channelRef{scheme: scheme, location: strings.TrimRight(rest, "/")}
}

func (o *parseOptions) setDefaults(urls []string) {
	o.defaults = nil
	o.custom = map[string]channelRef{}
	for _, u := range urls {
		c := o.simpleChannel(u, "")
		o.defaults = append(o.defaults, c)
		o.custom[c.name] = c
	}
	// conda also knows "pkgs/pro" on repo.anaconda.com out of the box.
	pro := o.simpleChannel("https://repo.anaconda.com", "pkgs/pro")
	o.custom[pro.name] = pro
	o.customList = o.customList[:0]
	for n, c := range o.custom {
		o.customList = append(o.customList, customChannel{name: n, ref: c, that: joinURL(c.location, c.name)})
	}
	// conda tries longer names first; ties cannot both match a URL, but keep the order
	// deterministic anyway.
	slices.SortFunc(o.customList, func(a, b customChannel) int {
		if len(a.name) != len(b.name) {
			return len(b.name) - len(a.name)
		}
		return strings.Compare(a.name, b.name)
	})
}

// WithWorkDir sets the directory relative package paths in specs resolve against
// (conda uses the process working directory). The default is "/".
func WithWorkDir(dir string) ParseOption { return func(o *parseOptions) { o.workDir = dir } }

// WithHomeDir sets the directory "~" expands to in local paths. By default "~" is
// left as it is, as Python does when it cannot find a home directory.
func WithHomeDir(dir string) ParseOption { return func(o *parseOptions) { o.homeDir = dir } }

// WithChannelAlias sets the URL bare channel names resolve under
// (default https://conda.anaconda.org).
func WithChannelAlias(alias string) ParseOption { return func(o *parseOptions) { o.setAlias(alias) } }

// WithDefaultChannels sets the members of the "defaults" multichannel.
func WithDefaultChannels(urls ...string) ParseOption {
	return func(o *parseOptions) { o.setDefaults(urls) }
}

// knownSubdirs are the platform directories conda recognises in channel URLs.
var knownSubdirs = []string{
	"noarch", "emscripten-wasm32", "wasi-wasm32", "freebsd-64", "linux-32", "linux-64",
	"linux-aarch64", "linux-armv6l", "linux-armv7l", "linux-ppc64", "linux-ppc64le",
	"linux-riscv64", "linux-s390x", "osx-64", "osx-arm64", "win-32", "win-64", "win-arm64",
	"zos-z",
}

// channelRef is conda's Channel model reduced to what matching and printing need.
type channelRef struct {
	scheme   string
	location string
	name     string
	platform string
	filename string
	multi    bool // a multichannel such as "defaults": no location of its own
}

func joinURL(parts ...string) string {
	if len(parts) == 0 {
		return ""
	}
	start := ""
	if parts[0] == "" || strings.HasPrefix(parts[0], "/") {
		start = "/"
	}
	var out []string
	for _, p := range parts {
		if p == "" {
			continue
		}
		if t := strings.Trim(p, "/"); t != "" {
			out = append(out, t)
		}
	}
	return start + strings.Join(out, "/")
}

func (c channelRef) baseURL() string {
	if c.multi {
		return ""
	}
	return c.scheme + "://" + joinURL(c.location, c.name)
}

func (o *parseOptions) canonicalName(c channelRef) string {
	if c.multi {
		return c.name
	}
	for _, d := range o.defaults {
		if c.name == d.name {
			return "defaults"
		}
	}
	if c.name != "" {
		for _, cc := range o.customList {
			if tokensHavePrefix(c.name, cc.name) {
				return c.name
			}
		}
	}
	if c.location == o.channelAlias.location {
		return c.name
	}
	if c.scheme != "" {
		return c.scheme + "://" + joinURL(c.location, c.name)
	}
	return strings.TrimLeft(joinURL(c.location, c.name), "/")
}

// isNonAliasURL mirrors conda's test for a channel built from a URL outside the channel
// alias; such channels print and match by their base URL.
func (o *parseOptions) isNonAliasURL(c channelRef) bool {
	return !c.multi && c.location != "" && c.location != o.channelAlias.location
}

// tokensHavePrefix reports whether the '/'-separated tokens of test and prefix agree
// as far as both go (conda's tokenized_startswith over str.split("/")).
func tokensHavePrefix(test, prefix string) bool {
	for {
		ti := strings.IndexByte(test, '/')
		pi := strings.IndexByte(prefix, '/')
		t, p := test, prefix
		if ti >= 0 {
			t = test[:ti]
		}
		if pi >= 0 {
			p = prefix[:pi]
		}
		if t != p {
			return false
		}
		if ti < 0 || pi < 0 {
			return true
		}
		test, prefix = test[ti+1:], prefix[pi+1:]
	}
}

func hasScheme(v string) bool {
	if v == "" || v[0] < 'a' || v[0] > 'z' {
		return false
	}
	i := 1
	for i < len(v) && i <= 12 && ((v[i] >= 'a' && v[i] <= 'z') || isDigit(v[i])) {
		i++
	}
	return strings.HasPrefix(v[i:], "://")
}

func isPathLike(v string) bool {
	if strings.Contains(v, "://") {
		return false
	}
	switch {
	case strings.HasPrefix(v, "./"), strings.HasPrefix(v, ".."), strings.HasPrefix(v, "~"),
		strings.HasPrefix(v, "/"), strings.HasPrefix(v, `\\`):
		return true
	}
	if len(v) >= 3 && ((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= 'A' && v[0] <= 'Z')) && v[1] == ':' && (v[2] == '/' || v[2] == '\\') {
		return true
	}
	return false
}

func hasPackageExtension(v string) bool {
	return strings.HasSuffix(v, ".conda") || strings.HasSuffix(v, ".tar.bz2")
}

func stripPackageExtension(v string) (string, bool) {
	for _, ext := range []string{".conda", ".tar.bz2"} {
		if strings.HasSuffix(v, ext) {
			return v[:len(v)-len(ext)], true
		}
	}
	return v, false
}

// splitPlatform removes the first "/<subdir>" path element (case-insensitively) that is
// followed by "/" or the end.
func splitPlatform(u string) (string, string) {
	for i := 0; i < len(u); i++ {
		if u[i] != '/' {
			continue
		}
		rest := u[i+1:]
		for _, sd := range knownSubdirs {
			if len(rest) >= len(sd) && asciiEqualFold(rest[:len(sd)], sd) && (len(rest) == len(sd) || rest[len(sd)] == '/') {
				found := u[i+1 : i+1+len(sd)]
				cleaned := strings.Replace(u, "/"+found, "", 1)
				return strings.TrimRight(cleaned, "/"), found
			}
		}
	}
	return strings.TrimRight(u, "/"), ""
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 32
		}
		if 'A' <= y && y <= 'Z' {
			y += 32
		}
		if x != y {
			return false
		}
	}
	return true
}

// splitToken removes an anaconda.org "/t/<token>" element.
func splitToken(u string) string {
	i := strings.Index(u, "/t/")
	if i < 0 {
		return strings.TrimRight(u, "/")
	}
	j := i + 3
	for j < len(u) && (isAlnum(u[j]) || u[j] == '-') {
		j++
	}
	tok := u[i+3 : j]
	return strings.TrimRight(strings.Replace(u, "/t/"+tok, "", 1), "/")
}

func isAlnum(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// parseChannel builds conda's Channel for a value: a URL, a local path, a package file or
// a channel name (optionally with a subdir).
func (o *parseOptions) parseChannel(value string) channelRef {
	switch {
	case hasScheme(value):
		if strings.HasPrefix(value, "file:") {
			value = strings.ReplaceAll(value, `\`, "/")
		}
		return o.channelFromURL(value)
	case isPathLike(value):
		return o.channelFromURL(o.pathToURL(value))
	case hasPackageExtension(value):
		return o.channelFromURL(value)
	}
	stripped, platform := splitPlatform(value)
	if stripped == "defaults" {
		return channelRef{name: "defaults", platform: platform, multi: true}
	}
	// A name served by a custom channel (e.g. "pkgs/main") keeps that channel's location.
	for test := stripped; ; {
		if c, ok := o.custom[test]; ok {
			c.name, c.platform = stripped, platform
			return c
		}
		i := strings.LastIndexByte(test, '/')
		if i < 0 {
			break
		}
		test = test[:i]
	}
	a := o.channelAlias
	return channelRef{scheme: a.scheme, location: a.location, name: stripped, platform: platform}
}

// simpleChannel is conda's make_simple_channel for configured URLs.
func (o *parseOptions) simpleChannel(u, name string) channelRef {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return channelRef{scheme: o.channelAlias.scheme, location: o.channelAlias.location, name: strings.Trim(u, "/")}
	}
	rest = strings.TrimRight(rest, "/")
	if name != "" {
		return channelRef{scheme: scheme, location: rest, name: strings.Trim(name, "/")}
	}
	if a := o.channelAlias.location; a != "" && strings.HasPrefix(rest, a) {
		return channelRef{scheme: scheme, location: a, name: strings.Trim(strings.Replace(rest, a, "", 1), "/")}
	}
	host, p, _ := strings.Cut(rest, "/")
	return channelRef{scheme: scheme, location: host, name: strings.Trim(p, "/")}
}

func (o *parseOptions) channelFromURL(raw string) channelRef {
	cleaned := splitToken(raw)
	cleaned, platform := splitPlatform(cleaned)
	var filename string
	if _, ok := stripPackageExtension(cleaned); ok && strings.Contains(cleaned, "/") {
		i := strings.LastIndexByte(cleaned, '/')
		cleaned, filename = cleaned[:i], cleaned[i+1:]
	}
	scheme, host, port, p := splitURL(cleaned)
	loc, name, confScheme := o.readChannelConfiguration(scheme, host, port, p)
	if name != "" {
		name = percentDecode(name)
	}
	if filename != "" {
		filename = percentDecode(filename)
	}
	if confScheme == "" {
		confScheme = "https"
	}
	return channelRef{scheme: confScheme, location: loc, name: name, platform: platform, filename: filename}
}

func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	if d, err := url.PathUnescape(s); err == nil {
		return d
	}
	return s
}

// splitURL splits a URL (or a scheme-less "host/path") into scheme, lower-cased host,
// port and path, dropping credentials, query and fragment.
func splitURL(u string) (scheme, host, port, p string) {
	rest := u
	if hasScheme(u) {
		scheme, rest, _ = strings.Cut(u, "://")
	} else {
		rest = strings.TrimPrefix(rest, "//")
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	authority := rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, p = rest[:i], rest[i:]
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:]
	}
	host = authority
	if i := strings.LastIndexByte(authority, ':'); i >= 0 && !strings.Contains(authority[i:], "]") {
		host, port = authority[:i], authority[i+1:]
	}
	return scheme, strings.ToLower(host), port, p
}

func hostPort(host, port string) string {
	if port != "" {
		return host + ":" + port
	}
	return host
}

func (o *parseOptions) readChannelConfiguration(scheme, host, port, p string) (loc, name, sch string) {
	p = strings.TrimRight(p, "/")
	testURL := hostPort(host, port) + p
	if p == "" {
		return strings.TrimRight(hostPort(host, port), "/"), "", scheme
	}
	// Custom channels (the defaults' members and pkgs/pro), longest name first.
	for _, cc := range o.customList {
		if tokensHavePrefix(testURL, cc.that) {
			sub := strings.Trim(strings.Replace(testURL, cc.that, "", 1), "/")
			return cc.ref.location, joinURL(cc.ref.name, sub), scheme
		}
	}
	if a := o.channelAlias.location; a != "" && tokensHavePrefix(testURL, a) {
		return a, strings.Trim(strings.Replace(testURL, a, "", 1), "/"), scheme
	}
	if host == "" {
		i := strings.LastIndexByte(testURL, '/')
		loc, name = testURL[:i], testURL[i+1:]
		if loc == "" {
			loc = "/"
		}
		return loc, name, "file"
	}
	parts := strings.Split(strings.Trim(p, "/"), "/")
	bump := ""
	if parts[0] == "conda" {
		bump, p = "/conda", strings.Join(parts[1:], "/")
	}
	return strings.TrimRight(hostPort(host, port)+bump, "/"), strings.Trim(p, "/"), scheme
}

// pathToURL turns a local path into a file:// URL the way conda does: expand "~", make
// it absolute against the work directory, use forward slashes.
func (o *parseOptions) pathToURL(p string) string {
	if strings.HasPrefix(p, "file:/") {
		return p
	}
	if o.homeDir != "" && (p == "~" || strings.HasPrefix(p, "~/")) {
		p = o.homeDir + p[1:]
	}
	if !strings.HasPrefix(p, "/") {
		p = strings.TrimRight(o.workDir, "/") + "/" + p
	}
	p = path.Clean(p)
	if strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///") {
		// POSIX keeps exactly two leading slashes.
	} else {
		p = "/" + strings.TrimLeft(p, "/")
	}
	p = strings.ReplaceAll(p, `\`, "/")
	if len(p) > 1 && p[1] == ':' {
		return "file:///" + p
	}
	return "file://" + p
}
