package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/sinew-dev/sinew/session"
)

// demoClient is one simulated user agent: its address (sent in
// X-Forwarded-For, as the edge proxy in front of the gateway would) and its
// session cookie, kept by hand because the cookie is Secure and the demo
// speaks plain HTTP on loopback.
type demoClient struct {
	hc    *http.Client
	ip    string
	token string
}

// answer is what one request got.
type answer struct {
	status  int
	node    string
	msg     string
	cookie  *http.Cookie
	elapsed time.Duration
	err     error
}

func (c *demoClient) do(ctx context.Context, method, url string, body any) answer {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("X-Forwarded-For", c.ip)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: c.token})
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	a := answer{status: resp.StatusCode, node: resp.Header.Get(NodeHeader), elapsed: time.Since(start)}
	if s, ok := m["error"].(string); ok {
		a.msg = s
	}
	for _, ck := range resp.Cookies() {
		if ck.Name != session.DefaultCookieName {
			continue
		}
		a.cookie = ck
		if ck.MaxAge < 0 || ck.Value == "" {
			c.token = ""
		} else {
			c.token = ck.Value
		}
	}
	return a
}
