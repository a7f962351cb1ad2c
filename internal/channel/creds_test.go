package channel

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCredentialsFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		host    string
		want    Credential
		found   bool
		wantErr bool
	}{
		{name: "bare token", env: []string{"REPROBUILD_AUTH_MIRROR_EXAMPLE_ORG=tok"}, host: "mirror.example.org", want: Credential{Token: "tok"}, found: true},
		{name: "bearer", env: []string{"REPROBUILD_AUTH_MIRROR_EXAMPLE_ORG=bearer tok2"}, host: "mirror.example.org", want: Credential{Token: "tok2"}, found: true},
		{name: "basic", env: []string{"REPROBUILD_AUTH_MIRROR_EXAMPLE_ORG=basic alice:s3:cr3t"}, host: "mirror.example.org", want: Credential{Username: "alice", Password: "s3:cr3t"}, found: true},
		{name: "host and port first", env: []string{"REPROBUILD_AUTH_H_ORG=a", "REPROBUILD_AUTH_H_ORG_8443=b"}, host: "h.org:8443", want: Credential{Token: "b"}, found: true},
		{name: "host without port", env: []string{"REPROBUILD_AUTH_H_ORG=a"}, host: "h.org:8443", want: Credential{Token: "a"}, found: true},
		{name: "other host", env: []string{"REPROBUILD_AUTH_H_ORG=a"}, host: "evil.org", found: false},
		{name: "unrelated variables", env: []string{"HOME=/root", "REPROBUILD_CACHE=/c"}, host: "h.org", found: false},
		{name: "basic without colon", env: []string{"REPROBUILD_AUTH_H=basic alice"}, wantErr: true},
		{name: "empty value", env: []string{"REPROBUILD_AUTH_H="}, wantErr: true},
		{name: "no host", env: []string{"REPROBUILD_AUTH_=x"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := CredentialsFromEnv(tt.env)
			if tt.wantErr {
				var ce *CredentialError
				if !errors.As(err, &ce) {
					t.Fatalf("err = %v, want *CredentialError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, ok := c.lookup(&url.URL{Host: tt.host})
			if ok != tt.found || got != tt.want {
				t.Fatalf("lookup(%s) = %+v, %v", tt.host, got.Token+"/"+got.Username+"/"+got.Password, ok)
			}
		})
	}
}

func TestParseCredentialsFile(t *testing.T) {
	good := `{"hosts": {"a.org": {"token": "T"}, "b.org:444": {"username": "u", "password": "p"}}}`
	c, err := ParseCredentials([]byte(good), "creds.json")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.lookup(&url.URL{Host: "a.org"})
	b, _ := c.lookup(&url.URL{Host: "b.org:444"})
	if d := cmp.Diff([]Credential{{Token: "T"}, {Username: "u", Password: "p"}}, []Credential{a, b}); d != "" {
		t.Fatal(d)
	}
	for _, bad := range []string{`{"hosts": {"a": {"token": "T", "username": "u"}}}`, `{"hosts": {"a": {}}}`, `{"hosts": `, `{"hosts": {"": {"token": "SECRETVALUE"}}}`} {
		_, err := ParseCredentials([]byte(bad), "creds.json")
		if err == nil || !strings.Contains(err.Error(), "creds.json") || strings.Contains(err.Error(), "SECRETVALUE") {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
	p := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(p, []byte(good), 0o600)
	if c2, err := LoadCredentials(p); err != nil || c2.Len() != 2 {
		t.Fatalf("LoadCredentials: %v, %d", err, c2.Len())
	}
}

func TestCredentialsNeverPrinted(t *testing.T) {
	c, _ := CredentialsFromEnv([]string{"REPROBUILD_AUTH_H=basic alice:hunter2"})
	cr, _ := c.lookup(&url.URL{Host: "h"})
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v", cr, cr, cr), fmt.Sprintf("%+v", c)} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "alice") {
			t.Fatalf("credentials printed: %s", s)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := map[string]string{
		"https://alice:pw@h.org/c/linux-64/x.conda":         "https://h.org/c/linux-64/x.conda",
		"https://h.org/t/tk-123/conda-forge/noarch/a.conda": "https://h.org/t/REDACTED/conda-forge/noarch/a.conda",
		"file:///srv/chan/noarch":                           "file:///srv/chan/noarch",
		"https://u:p@h.org/%zz":                             "https://h.org/%zz",
	}
	for in, want := range tests {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// The token reaches only its host; a mirror's userinfo is used as basic auth; neither
// appears in errors or progress output.
func TestCredentialsSentAndRedacted(t *testing.T) {
	pkg := realPackages(t)[0]
	srv := newChannelServer(t)
	recs := srv.publish("private", "https://conda.example.org/private", []testPackage{pkg})
	srv.publish("basic", "https://conda.example.org/private", []testPackage{pkg})
	srv.auth["/private/"] = "Bearer sekret-token"
	srv.auth["/basic/"] = "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:pa55word"))
	u, _ := url.Parse(srv.URL)
	creds, err := CredentialsFromEnv([]string{EnvPrefix + envKey(u.Host) + "=sekret-token"})
	if err != nil {
		t.Fatal(err)
	}
	ch := Channel{URL: "https://conda.example.org/private", Location: srv.URL + "/private"}
	var progress bytes.Buffer
	c := testClient(t, t.TempDir(), WithCredentials(creds), WithProgress(&progress, false))
	if _, err := c.Fetch(context.Background(), []Download{ch.Download(recs[0])}); err != nil {
		t.Fatalf("authorised fetch: %v", err)
	}

	// Without credentials: a 401 that says where to put them and shows no secret.
	withUser := "http://bob:wrongpass@" + u.Host + "/private"
	ch = Channel{URL: "https://conda.example.org/private", Location: withUser}
	c = testClient(t, t.TempDir(), WithProgress(&progress, false))
	_, err = c.Fetch(context.Background(), []Download{ch.Download(recs[0])})
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "REPROBUILD_AUTH_") {
		t.Fatalf("unauthorised fetch: %v", err)
	}
	// Userinfo in a mirror URL is used for basic auth.
	mirror := "http://bob:pa55word@" + u.Host + "/basic"
	ch = Channel{URL: "https://conda.example.org/private", Location: withUser, Mirrors: []string{mirror}}
	if _, err := c.Fetch(context.Background(), []Download{ch.Download(recs[0])}); err != nil {
		t.Fatalf("basic auth from mirror userinfo: %v", err)
	}
	// A mirror that fails with userinfo in its URL: the message has no password.
	srv.set("/basic/linux-64/"+pkg.rec.Fn, serve500)
	c = testClient(t, t.TempDir(), WithProgress(&progress, false))
	_, err = c.Fetch(context.Background(), []Download{ch.Download(recs[0])})
	if err == nil {
		t.Fatal("fetch succeeded")
	}
	for _, secret := range []string{"sekret-token", "pa55word", "wrongpass"} {
		if strings.Contains(err.Error(), secret) || strings.Contains(progress.String(), secret) {
			t.Fatalf("secret %q leaked:\nerror: %v\nprogress: %s", secret, err, progress.String())
		}
	}
	for _, h := range srv.seenAuth {
		if h != "" && h != "Bearer sekret-token" && !strings.HasPrefix(h, "Basic ") {
			t.Fatalf("unexpected Authorization %q", h)
		}
	}
}
