package channel

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// RedirectError is a redirect reprobuild refuses to follow.
type RedirectError struct {
	From, To string // redacted; From is named by the request error around it
	Reason   string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("redirect to %s refused: %s", e.To, e.Reason)
}

// origin is scheme://host:port with the scheme's default port made explicit, so
// https://h and https://h:443 are one origin and https://h:8443 another.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// checkRedirect is the client's redirect policy. Credentials reach only the origin
// (scheme, host and port) they were sent to first: Go's own policy keeps the
// Authorization header when only the port changes, so it is removed here on any change
// of origin, and the credentials configured for the new origin (if any) are set instead.
// A redirect from https to http is refused: repodata is not hashed by the lock.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	first := via[0].URL
	if first.Scheme == "https" && req.URL.Scheme != "https" {
		return &RedirectError{From: Redact(first.String()), To: Redact(req.URL.String()), Reason: "it leaves https"}
	}
	if origin(req.URL) != origin(first) {
		req.Header.Del("Authorization")
		req.Header.Del("Proxy-Authorization")
		req.Header.Del("Cookie")
		if cr, ok := c.o.creds.lookup(req.URL); ok {
			cr.setHeader(req)
		}
		req.URL.User = nil
	}
	return nil
}
