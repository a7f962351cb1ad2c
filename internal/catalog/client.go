package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Target is a parsed URL/NAMESPACE/ENV[@VERSION] as `submit --to` and `pull` take it.
type Target struct {
	Base        string // scheme://host[:port][/prefix]
	Namespace   string
	Environment string
	Version     int64 // 0: latest
}

// ParseTarget parses URL/NAMESPACE/ENV[@VERSION].
func ParseTarget(s string, allowVersion bool) (Target, error) {
	var t Target
	bad := func(why string) (Target, error) {
		return t, fmt.Errorf("%q: %s; want http(s)://HOST[:PORT]/NAMESPACE/ENV%s", s, why, map[bool]string{true: "[@VERSION]", false: ""}[allowVersion])
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("not an http(s) URL")
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 2 {
		return bad("no namespace and environment")
	}
	ns, env := parts[len(parts)-2], parts[len(parts)-1]
	if e, v, ok := strings.Cut(env, "@"); ok {
		if !allowVersion {
			return bad("a version cannot be given here")
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return bad(fmt.Sprintf("version %q is not a positive number", v))
		}
		env, t.Version = e, n
	}
	if err := ValidName("namespace", ns); err != nil {
		return bad(err.Error())
	}
	if err := ValidName("environment", env); err != nil {
		return bad(err.Error())
	}
	t.Base = u.Scheme + "://" + u.Host + strings.TrimSuffix("/"+strings.Join(parts[:len(parts)-2], "/"), "/")
	t.Namespace, t.Environment = ns, env
	return t, nil
}

// Client talks to a catalogue's API.
type Client struct {
	HTTP  *http.Client
	Token string
}

// APIError is a non-success answer from the server.
type APIError struct {
	Status int
	Msg    string
	Recipe *RecipeError
}

func (e *APIError) Error() string { return e.Msg }

func (c *Client) do(ctx context.Context, method, u string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		js, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		e := &APIError{Status: resp.StatusCode}
		if resp.StatusCode == http.StatusUnprocessableEntity {
			var re RecipeError
			if json.Unmarshal(data, &re) == nil && re.Message != "" {
				e.Recipe, e.Msg = &re, re.Message
				return e
			}
		}
		var m struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &m) == nil && m.Error != "" {
			e.Msg = fmt.Sprintf("%s %s: %s", method, u, m.Error)
		} else {
			e.Msg = fmt.Sprintf("%s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(data)))
		}
		return e
	}
	switch o := out.(type) {
	case nil:
		return nil
	case *string:
		*o = string(data)
		return nil
	default:
		return json.Unmarshal(data, out)
	}
}

func (t Target) versionURL(n int64) string {
	v := "latest"
	if n > 0 {
		v = strconv.FormatInt(n, 10)
	}
	return fmt.Sprintf("%s/api/v1/namespaces/%s/environments/%s/versions/%s", t.Base, t.Namespace, t.Environment, v)
}

// Submit sends a recipe as the next version of t's environment.
func (c *Client) Submit(ctx context.Context, t Target, filename string, recipe []byte) (*Version, error) {
	var v Version
	u := fmt.Sprintf("%s/api/v1/namespaces/%s/environments/%s/versions", t.Base, t.Namespace, t.Environment)
	err := c.do(ctx, http.MethodPost, u, map[string]string{"filename": filename, "recipe": string(recipe)}, &v)
	return &v, err
}

// Version fetches a version (n 0: the latest).
func (c *Client) Version(ctx context.Context, t Target, n int64) (*Version, error) {
	var v Version
	err := c.do(ctx, http.MethodGet, t.versionURL(n), nil, &v)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil, fmt.Errorf("%s/%s/%s: no such version, or not visible to this token", t.Base, t.Namespace, t.Environment)
	}
	return &v, err
}
