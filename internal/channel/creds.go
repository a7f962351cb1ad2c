package channel

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// Credential is how to authenticate to one host: a bearer token or basic auth. Its
// String never shows the secret.
type Credential struct {
	Token    string
	Username string
	Password string
	// CondaToken is an anaconda.org channel token: requests carry it as a /t/TOKEN/
	// path prefix, the way anaconda.org expects, instead of a header. It never reaches
	// a recipe, lock, record or message.
	CondaToken string
}

func (c Credential) String() string   { return "[credentials redacted]" }
func (c Credential) GoString() string { return "[credentials redacted]" }

// Credentials maps a host ("host" or "host:port") to its credential.
type Credentials struct {
	byKey map[string]Credential
}

func (c Credentials) String() string {
	return fmt.Sprintf("[%d host credentials redacted]", len(c.byKey))
}

// envKey is the REPROBUILD_AUTH_ suffix for a host: upper case, every character other
// than a letter or digit turned into '_'.
func envKey(host string) string {
	b := []byte(strings.ToUpper(host))
	for i, ch := range b {
		if !(ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

func (c *Credentials) set(host string, cr Credential) {
	if c.byKey == nil {
		c.byKey = map[string]Credential{}
	}
	c.byKey[envKey(host)] = cr
}

// Merge returns c with the entries of other added; other wins on the same host.
func (c Credentials) Merge(other Credentials) Credentials {
	out := Credentials{byKey: map[string]Credential{}}
	for k, v := range c.byKey {
		out.byKey[k] = v
	}
	for k, v := range other.byKey {
		out.byKey[k] = v
	}
	return out
}

// Len is the number of hosts with credentials.
func (c Credentials) Len() int { return len(c.byKey) }

// lookup finds the credential for a URL host, "host:port" first, then "host".
func (c Credentials) lookup(u *url.URL) (Credential, bool) {
	if cr, ok := c.byKey[envKey(u.Host)]; ok {
		return cr, true
	}
	cr, ok := c.byKey[envKey(u.Hostname())]
	return cr, ok
}

// CredentialError is a malformed credential setting; it names the setting, never the
// secret.
type CredentialError struct {
	Source string // environment variable or file
	Reason string
}

func (e *CredentialError) Error() string {
	return fmt.Sprintf("credentials in %s: %s", e.Source, e.Reason)
}

// EnvPrefix starts the environment variables CredentialsFromEnv reads.
const EnvPrefix = "REPROBUILD_AUTH_"

// CredentialsFromEnv reads REPROBUILD_AUTH_<HOST>=VALUE entries from environ (as
// os.Environ gives them). <HOST> is the host or host:port in upper case with every
// other character as '_' (mirror.example.org:8443 -> MIRROR_EXAMPLE_ORG_8443). VALUE is
// "bearer TOKEN", "basic USER:PASSWORD", "conda-token TOKEN" (an anaconda.org channel
// token, sent as a /t/TOKEN/ path prefix), or a bare TOKEN (bearer).
func CredentialsFromEnv(environ []string) (Credentials, error) {
	var c Credentials
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, EnvPrefix) {
			continue
		}
		host := strings.TrimPrefix(k, EnvPrefix)
		if host == "" {
			return c, &CredentialError{Source: k, Reason: "no host after " + EnvPrefix}
		}
		cr, err := parseCredValue(v)
		if err != nil {
			return c, &CredentialError{Source: k, Reason: err.Error()}
		}
		c.set(host, cr)
	}
	return c, nil
}

func parseCredValue(v string) (Credential, error) {
	v = strings.TrimSpace(v)
	kind, rest, ok := strings.Cut(v, " ")
	switch {
	case ok && strings.EqualFold(kind, "bearer"):
		if t := strings.TrimSpace(rest); t != "" {
			return Credential{Token: t}, nil
		}
	case ok && strings.EqualFold(kind, "conda-token"):
		if t := strings.TrimSpace(rest); t != "" && !strings.ContainsAny(t, "/?#") {
			return Credential{CondaToken: t}, nil
		}
		return Credential{}, fmt.Errorf(`conda tokens must be "conda-token TOKEN" with no '/', '?' or '#'`)
	case ok && strings.EqualFold(kind, "basic"):
		user, pass, ok := strings.Cut(strings.TrimSpace(rest), ":")
		if ok && user != "" {
			return Credential{Username: user, Password: pass}, nil
		}
		return Credential{}, fmt.Errorf(`basic credentials must be "basic USER:PASSWORD"`)
	case !ok && v != "":
		return Credential{Token: v}, nil
	}
	return Credential{}, fmt.Errorf(`value must be "bearer TOKEN", "basic USER:PASSWORD", "conda-token TOKEN" or a bare token`)
}

// credFile is the JSON form LoadCredentials reads.
type credFile struct {
	Hosts map[string]struct {
		Token      string `json:"token"`
		Username   string `json:"username"`
		Password   string `json:"password"`
		CondaToken string `json:"conda_token"`
	} `json:"hosts"`
}

// LoadCredentials reads a JSON file {"hosts": {"HOST[:PORT]": {"token": "..."},
// {"username": "...", "password": "..."} or {"conda_token": "..."}}}.
func LoadCredentials(path string) (Credentials, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("reading credentials: %w", err)
	}
	return ParseCredentials(data, path)
}

// ParseCredentials decodes the LoadCredentials format; source names it in errors.
func ParseCredentials(data []byte, source string) (Credentials, error) {
	var f credFile
	var c Credentials
	if err := json.Unmarshal(data, &f); err != nil {
		// The decoder's message may quote file content; keep only its position.
		return c, &CredentialError{Source: source, Reason: "not valid JSON; expected {\"hosts\": {\"HOST\": {\"token\": \"...\"}}}"}
	}
	for host, e := range f.Hosts {
		switch {
		case host == "":
			return c, &CredentialError{Source: source, Reason: "empty host name"}
		case e.CondaToken != "" && e.Token == "" && e.Username == "" && e.Password == "":
			if strings.ContainsAny(e.CondaToken, "/?#") {
				return c, &CredentialError{Source: source, Reason: fmt.Sprintf("host %q: conda_token must not contain '/', '?' or '#'", host)}
			}
			c.set(host, Credential{CondaToken: e.CondaToken})
		case e.CondaToken != "":
			return c, &CredentialError{Source: source, Reason: fmt.Sprintf("host %q needs either conda_token, token or username/password, not several", host)}
		case e.Token != "" && e.Username == "" && e.Password == "":
			c.set(host, Credential{Token: e.Token})
		case e.Token == "" && e.Username != "":
			c.set(host, Credential{Username: e.Username, Password: e.Password})
		default:
			return c, &CredentialError{Source: source, Reason: fmt.Sprintf("host %q needs either token or username/password", host)}
		}
	}
	return c, nil
}

// authorize sets the Authorization header for req: credentials configured for its host
// first, else userinfo written in the URL (which is then removed from the request line).
func (c Credentials) authorize(req *http.Request) {
	u := req.URL
	if cr, ok := c.lookup(u); ok {
		cr.setHeader(req)
	} else if u.User != nil {
		pass, _ := u.User.Password()
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass)))
	}
	u.User = nil
}

// setHeader authenticates req with cr: an anaconda.org-style token goes into the path
// (/t/TOKEN/...), the others into the Authorization header.
func (cr Credential) setHeader(req *http.Request) {
	switch {
	case cr.CondaToken != "":
		if !strings.HasPrefix(req.URL.Path, "/t/") {
			req.URL.Path = "/t/" + cr.CondaToken + req.URL.Path
			req.URL.RawPath = ""
		}
	case cr.Token != "":
		req.Header.Set("Authorization", "Bearer "+cr.Token)
	default:
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cr.Username+":"+cr.Password)))
	}
}

// Redact removes userinfo and anaconda.org-style /t/TOKEN/ path segments from a URL,
// for messages and records.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Unparseable: cut anything between "://" and '@' by hand.
		if i := strings.Index(raw, "://"); i >= 0 {
			if j := strings.LastIndexByte(raw[i+3:], '@'); j >= 0 {
				return raw[:i+3] + raw[i+3+j+1:]
			}
		}
		return raw
	}
	u.User = nil
	segs := strings.Split(u.Path, "/")
	for i := 0; i+1 < len(segs); i++ {
		if segs[i] == "t" && segs[i+1] != "" && i+2 < len(segs) {
			segs[i+1] = "REDACTED"
		}
	}
	u.Path = strings.Join(segs, "/")
	u.RawPath = ""
	return u.String()
}
