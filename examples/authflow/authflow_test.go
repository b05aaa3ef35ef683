package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/sinew-dev/sinew/examples/authflow/internal/app"
	"github.com/sinew-dev/sinew/examples/authflow/password"
	"github.com/sinew-dev/sinew/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// TestDemo runs the whole demo scenario in-process against each kind of
// backend and asserts every outcome the README promises.
func TestDemo(t *testing.T) {
	tests := []struct {
		name     string
		backends func(t *testing.T) *app.Backends
	}{
		{"embedded", func(*testing.T) *app.Backends { return app.Embedded() }},
		{"redis", func(t *testing.T) *app.Backends {
			return app.Redis(redistest.Standalone(t), "Redis standalone", redistest.Prefix(t), 3)
		}},
		{"cluster", func(t *testing.T) *app.Backends {
			return app.Redis(redistest.Cluster(t), "Redis Cluster", redistest.Prefix(t), 3)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			var out bytes.Buffer
			backends := tt.backends(t)
			t.Cleanup(func() { assert.NoError(t, backends.Close()) })
			rep, err := app.RunDemo(ctx, app.Config{
				Backends:       backends,
				Params:         password.Params{MemoryKiB: 64, Iterations: 1},
				BcryptCost:     bcrypt.MinCost,
				BreakerOpen:    300 * time.Millisecond,
				HealthInterval: 100 * time.Millisecond,
			}, &out)
			defer func() {
				if t.Failed() {
					t.Log("demo output:\n" + out.String())
				}
			}()
			require.NoError(t, err)

			assert.Equal(t, 6, rep.Registered)
			assert.Zero(t, rep.Overload.Other, "registrations answered neither 201 nor 503")

			// Sessions: secure cookie, rotated on login, invalid after logout.
			assert.Contains(t, rep.CookieFlags, "HttpOnly")
			assert.Contains(t, rep.CookieFlags, "Secure")
			assert.Equal(t, 200, rep.MeAfterLogin)
			assert.Equal(t, 401, rep.OldTokenAfterRotate)
			assert.Equal(t, 401, rep.MeAfterLogout)
			assert.True(t, rep.SameFailure, "unknown users must look like wrong passwords")

			// The shared limits hold across nodes.
			for name, b := range map[string]app.BurstReport{"user": rep.UserBurst, "ip": rep.IPBurst} {
				assert.Equal(t, rep.Nodes, len(b.PerNode), "%s burst reached every node", name)
				assert.LessOrEqual(t, b.Allowed, b.MaxLegal, "%s limit exceeded", name)
				assert.Equal(t, b.Limit, b.Allowed, "%s limit admits its burst", name)
				assert.Equal(t, b.Attempts, b.Allowed+b.Denied, name)
				assert.Zero(t, b.Succeeded, name)
				assert.Zero(t, b.Errors, name)
			}

			// A dead node: no failed request once the gateway has noticed,
			// the dead node serves nothing, and traffic comes back.
			f := rep.Failover
			assert.Positive(t, f.Detected)
			assert.NotEmpty(t, f.Events)
			assert.Zero(t, f.ErrorsAfter, "failed requests after detection")
			assert.Zero(t, f.KilledServedDown)
			assert.True(t, f.Recovered)
			assert.Positive(t, f.ServedAfter[f.Killed], "traffic came back to %s", f.Killed)
			t.Logf("failover: breaker opened %v, events %v, %d failed requests before detection", f.BreakerOpened, f.Events, f.ErrorsInWindow)

			// Legacy hashes migrated exactly once, stale writer rejected.
			m := rep.Migration
			assert.Equal(t, m.Logins, m.LoginsOK)
			assert.Len(t, m.Migrations, m.Users)
			for name, n := range m.Migrations {
				assert.Equal(t, 1, n, "migrations of %s", name)
			}
			assert.Zero(t, m.StillLegacy)
			assert.Equal(t, m.Users, m.AfterLoginsOK)
			assert.True(t, m.StaleRejected)
			assert.Equal(t, 1, m.PausedUser)

			assert.True(t, rep.OK(), "every check of the summary passes")
		})
	}
}
