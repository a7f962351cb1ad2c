package record

import (
	"strings"
	"testing"
)

func FuzzParseRuntime(f *testing.F) {
	r, l := fullCase(f)
	rr, err := Runtime(r, l, buildInfo())
	if err != nil {
		f.Fatal(err)
	}
	b, _ := rr.JSON()
	f.Add(b)
	f.Add([]byte(`{"record_version":1}`))
	f.Add([]byte(`{"record_version":1,"packages":[{"name":"x"}],"runtime":{"env":{"A":"1"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rr, err := ParseRuntime(data)
		if err != nil {
			return
		}
		// Whatever parses re-encodes, and the encoding is a fixed point.
		out, err := rr.JSON()
		if err != nil {
			t.Fatal(err)
		}
		rr2, err := ParseRuntime(out)
		if err != nil {
			t.Fatalf("re-encoded record does not parse: %v", err)
		}
		out2, _ := rr2.JSON()
		if string(out) != string(out2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", out, out2)
		}
		_ = rr.Text()
		_ = Labels(rr)
	})
}

func FuzzStripCredentials(f *testing.F) {
	for _, s := range []string{"https://u:p@h/x", "https://conda.anaconda.org/t/tok/ch", "http://[::1", "s3://a:b@c/d?e#f", "file:///x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := StripCredentials(s)
		if strings.Contains(s, "://") {
			// No userinfo survives: nothing between the scheme and the host ends in '@'.
			_, rest, _ := strings.Cut(out, "://")
			host, _, _ := strings.Cut(rest, "/")
			if strings.Contains(host, "@") && !strings.ContainsAny(host, "?#") {
				t.Fatalf("StripCredentials(%q) = %q keeps userinfo", s, out)
			}
		}
		if again := StripCredentials(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, out, again)
		}
	})
}
