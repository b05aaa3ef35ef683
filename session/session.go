package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Defaults of [Options].
const (
	// DefaultIdleTimeout is the default [Options.IdleTimeout].
	DefaultIdleTimeout = 30 * time.Minute
	// DefaultLifetime is the default [Options.Lifetime].
	DefaultLifetime = 24 * time.Hour
	// DefaultCookieName is the default [CookieOptions.Name].
	DefaultCookieName = "session"
	// DefaultWaitTimeout is the default [Options.WaitTimeout].
	DefaultWaitTimeout = 100 * time.Millisecond
)

// EventKind says what happened to a session in an [Event].
type EventKind int

// The kinds of [Event].
const (
	// EventCreated: a new session was stored.
	EventCreated EventKind = iota + 1
	// EventRotated: a session moved to a new ID; the old one is dead.
	EventRotated
	// EventExpired: a load or commit found a session past its idle or
	// absolute deadline and deleted it. Sessions that the store has already
	// dropped (a Redis key that expired) look unknown and raise no event.
	EventExpired
	// EventRevoked: sessions were destroyed by [Session.Destroy] or
	// [Manager.RevokeUser]; Event.Count says how many.
	EventRevoked
)

// String returns the kind's name, e.g. "created".
func (k EventKind) String() string {
	switch k {
	case EventCreated:
		return "created"
	case EventRotated:
		return "rotated"
	case EventExpired:
		return "expired"
	case EventRevoked:
		return "revoked"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is passed to [Options.OnEvent]. It never carries a token or a token
// hash.
type Event struct {
	Kind  EventKind
	User  string // the session's user, "" if none or unknown
	Count int    // sessions concerned: 1, or the number revoked by RevokeUser
}

// CookieOptions configures the cookie written by [Manager.Middleware].
// The zero value gives a secure default: HttpOnly, Secure, SameSite=Lax,
// Path=/, no Domain, persistent until the session's expiry.
type CookieOptions struct {
	// Name of the cookie. Default [DefaultCookieName].
	Name string
	// Path of the cookie. Default "/".
	Path string
	// Domain of the cookie. Default none (host-only).
	Domain string
	// Insecure drops the Secure attribute, for plain-HTTP development only.
	// Default false (Secure).
	Insecure bool
	// SameSite mode. Default http.SameSiteLaxMode.
	SameSite http.SameSite
	// BrowserSession omits Expires so the browser forgets the cookie when it
	// closes. Default false: the cookie expires with the session.
	BrowserSession bool
}

// Options configures a [Manager]. The zero value gives the documented
// defaults.
type Options struct {
	// IdleTimeout ends a session that has not been used for this long.
	// Default [DefaultIdleTimeout].
	IdleTimeout time.Duration
	// Lifetime ends a session this long after it was created, however
	// active; rotation keeps the original deadline. Default [DefaultLifetime].
	Lifetime time.Duration
	// TouchInterval throttles the writes that keep a session alive: a load
	// pushes the idle deadline back only if the last touch is at least this
	// old, so the idle deadline is measured from the last touch and may come
	// up to TouchInterval early. Default IdleTimeout/10; negative touches on
	// every load.
	TouchInterval time.Duration
	// RotateGrace keeps a rotated-away ID usable for this long: loads and
	// commits through it reach the new session, so requests in flight during
	// a login neither fail nor lose writes. It re-opens a fixation window of
	// the same length. Default 0: the old ID is dead at once.
	RotateGrace time.Duration
	// WaitReplicas, if positive, makes every write wait (Redis WAIT) until
	// that many replicas acknowledged it or WaitTimeout passed; the number
	// reached is in [Result.Replicas]. Default 0: no waiting.
	WaitReplicas int
	// WaitTimeout bounds WaitReplicas. Default [DefaultWaitTimeout].
	WaitTimeout time.Duration
	// Cookie configures the middleware's cookie.
	Cookie CookieOptions
	// ErrorHandler answers a request whose session could not be loaded or
	// committed because the store failed. Default: 503 Service Unavailable.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// OnEvent, if set, is called after a session is created, rotated,
	// found expired or revoked, synchronously on the goroutine that made the
	// call, with no lock held.
	OnEvent func(Event)
}

// Manager creates, loads and commits sessions in a [Store] and provides the
// HTTP middleware. It is safe for concurrent use.
type Manager struct {
	store Store
	opts  Options
}

// New returns a Manager over store. It panics if store is nil.
func New(store Store, opts Options) *Manager {
	if store == nil {
		panic("session: nil store")
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.Lifetime <= 0 {
		opts.Lifetime = DefaultLifetime
	}
	if opts.TouchInterval == 0 {
		opts.TouchInterval = opts.IdleTimeout / 10
	}
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = DefaultWaitTimeout
	}
	if opts.Cookie.Name == "" {
		opts.Cookie.Name = DefaultCookieName
	}
	if opts.Cookie.Path == "" {
		opts.Cookie.Path = "/"
	}
	if opts.Cookie.SameSite == 0 {
		opts.Cookie.SameSite = http.SameSiteLaxMode
	}
	if opts.ErrorHandler == nil {
		opts.ErrorHandler = unavailable
	}
	return &Manager{store: store, opts: opts}
}

func unavailable(w http.ResponseWriter, _ *http.Request, _ error) {
	http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
}

// Result describes a committed session.
type Result struct {
	// Token is the session's token, for the client (the middleware puts it
	// in the cookie). Empty once the session is destroyed.
	Token string
	// Expires is when the session ends if unused: the earlier of its
	// absolute deadline and its idle deadline.
	Expires time.Time
	// Replicas is how many replicas acknowledged the write when
	// Options.WaitReplicas is set; 0 otherwise.
	Replicas int
}

// Session is one client's session: its values, its user and pending
// changes. Reads and writes are in memory; [Manager.Commit] (or the
// middleware) sends the changes. A Session is safe for concurrent use.
type Session struct {
	mu        sync.Mutex // protects everything below
	token     string     // "" until stored
	hash      string     // store key; differs from hash(token) after a grace-window forward
	forwarded bool
	values    map[string][]byte
	set       map[string]struct{}
	del       map[string]struct{}
	user      string
	userSet   bool
	abs       time.Time
	expires   time.Time
	rotate    bool
	destroy   bool
	ended     bool
	cookie    bool // token or expiry changed: the cookie must be (re)sent
}

// New returns a new, empty session that is stored on its first commit
// with changes.
func (m *Manager) New() *Session {
	return &Session{values: make(map[string][]byte), set: make(map[string]struct{}), del: make(map[string]struct{})}
}

// Load returns the session for token. ok is false when the token is
// malformed, unknown, revoked or past a deadline: the caller should treat the
// client as having no session. err is set only when the store failed.
func (m *Manager) Load(ctx context.Context, token string) (s *Session, ok bool, err error) {
	h, ok := hashToken(token)
	if !ok {
		return nil, false, nil
	}
	l, st, err := m.store.load(ctx, h, m.opts.TouchInterval)
	if err != nil {
		return nil, false, err
	}
	switch st {
	case statusOK:
	case statusExpired:
		m.emit(Event{Kind: EventExpired, User: l.user, Count: 1})
		return nil, false, nil
	default:
		return nil, false, nil
	}
	s = m.New()
	s.token, s.hash, s.forwarded = token, l.hash, l.hash != h
	s.values, s.user, s.abs, s.expires, s.cookie = l.fields, l.user, l.abs, l.expires, l.touched && !s.forwarded
	return s, true, nil
}

// Commit sends s's pending changes in one store round trip (two or three
// for a rotation or a change of user): a new session with values is
// created, a rotation requested with [Session.Rotate] moves it to a new
// token, [Session.Destroy] deletes it. ok is false when the session no
// longer exists (expired, revoked or rotated away meanwhile): its changes
// are discarded and it is never recreated. A session without changes costs
// nothing. err is set only when the store failed; the changes then stay
// pending.
func (m *Manager) Commit(ctx context.Context, s *Session) (res Result, ok bool, err error) {
	var ev Event
	s.mu.Lock()
	res, ok, ev, err = m.commitLocked(ctx, s)
	s.mu.Unlock()
	if ev.Kind != 0 {
		m.emit(ev)
	}
	return res, ok, err
}

func (m *Manager) w() wait {
	return wait{replicas: m.opts.WaitReplicas, timeout: m.opts.WaitTimeout}
}

func (m *Manager) commitLocked(ctx context.Context, s *Session) (Result, bool, Event, error) {
	if s.ended {
		return Result{}, false, Event{}, nil
	}
	if s.destroy {
		if s.hash != "" {
			if err := m.store.destroy(ctx, s.hash); err != nil {
				return Result{}, false, Event{}, err
			}
		}
		stored := s.hash != ""
		s.end()
		if stored {
			return Result{}, true, Event{Kind: EventRevoked, User: s.user, Count: 1}, nil
		}
		return Result{}, true, Event{}, nil
	}
	if s.hash == "" {
		if len(s.set) == 0 && !(s.userSet && s.user != "") {
			return Result{}, true, Event{}, nil
		}
		token, h := newToken()
		rec := record{fields: s.values, user: s.user, idle: m.opts.IdleTimeout, life: m.opts.Lifetime}
		st, code, err := m.store.create(ctx, h, rec, m.w())
		if err != nil {
			return Result{}, false, Event{}, err
		}
		if code != statusOK {
			// A fresh 256-bit token cannot collide; only a store that lost
			// its clock could get here.
			return Result{}, false, Event{}, fmt.Errorf("session: create: new session rejected (status %d)", code)
		}
		s.token, s.hash, s.abs, s.expires, s.cookie = token, h, st.abs, st.expires, true
		s.clearPending()
		return Result{Token: token, Expires: st.expires, Replicas: st.replicas}, true, Event{Kind: EventCreated, User: s.user, Count: 1}, nil
	}
	ch := changes{set: make(map[string][]byte, len(s.set)), userSet: s.userSet, user: s.user, bound: s.user, abs: s.abs}
	for k := range s.set {
		ch.set[k] = s.values[k]
	}
	for k := range s.del {
		ch.del = append(ch.del, k)
	}
	slices.Sort(ch.del)
	if s.rotate {
		token, h := newToken()
		st, code, err := m.store.rotate(ctx, s.hash, h, ch, m.opts.RotateGrace, m.w())
		if err != nil {
			return Result{}, false, Event{}, err
		}
		if code != statusOK {
			s.end()
			return Result{}, false, m.goneEvent(code, st), nil
		}
		s.token, s.hash, s.forwarded, s.abs, s.expires, s.cookie = token, h, false, st.abs, st.expires, true
		s.clearPending()
		return Result{Token: token, Expires: st.expires, Replicas: st.replicas}, true, Event{Kind: EventRotated, User: s.user, Count: 1}, nil
	}
	if len(ch.set) == 0 && len(ch.del) == 0 && !ch.userSet {
		return Result{Token: s.token, Expires: s.expires}, true, Event{}, nil
	}
	st, code, err := m.store.commit(ctx, s.hash, ch, m.w())
	if err != nil {
		return Result{}, false, Event{}, err
	}
	if code != statusOK {
		s.end()
		return Result{}, false, m.goneEvent(code, st), nil
	}
	s.expires, s.abs = st.expires, st.abs
	s.cookie = s.cookie || !s.forwarded
	s.clearPending()
	return Result{Token: s.token, Expires: st.expires, Replicas: st.replicas}, true, Event{}, nil
}

func (m *Manager) goneEvent(code status, st stored) Event {
	if code == statusExpired {
		return Event{Kind: EventExpired, User: st.user, Count: 1}
	}
	return Event{}
}

// RevokeUser destroys every session bound to user with [Session.SetUser]
// ("log out everywhere") and returns how many live sessions it destroyed.
// It never reveals the sessions' tokens or hashes. A session being created
// or rotated concurrently for the user is destroyed too or, if it is
// created after RevokeUser returns, survives like any later login.
func (m *Manager) RevokeUser(ctx context.Context, user string) (int, error) {
	n, err := m.store.revokeUser(ctx, user)
	if n > 0 {
		m.emit(Event{Kind: EventRevoked, User: user, Count: n})
	}
	return n, err
}

func (m *Manager) emit(ev Event) {
	if m.opts.OnEvent != nil {
		m.opts.OnEvent(ev)
	}
}

func (s *Session) end() {
	s.ended, s.destroy, s.rotate = true, false, false
	s.token, s.hash = "", ""
	clear(s.values)
	s.clearPending()
}

func (s *Session) clearPending() {
	clear(s.set)
	clear(s.del)
	s.userSet, s.rotate = false, false
}

// GetBytes returns the raw value stored under key.
func (s *Session) GetBytes(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[key]
	return v, ok
}

// SetBytes stores v under key. The write reaches the store as a write of
// this one field, so concurrent requests that set different keys keep
// each other's values.
func (s *Session) SetBytes(key string, v []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.values[key] = append([]byte(nil), v...)
	s.set[key] = struct{}{}
	delete(s.del, key)
}

// Delete removes key.
func (s *Session) Delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	delete(s.values, key)
	delete(s.set, key)
	if s.hash != "" {
		s.del[key] = struct{}{}
	}
}

// Keys returns the session's keys, sorted.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.values))
}

// User returns the user the session is bound to, "" if none.
func (s *Session) User() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user
}

// SetUser binds the session to user ("" unbinds it), so that
// [Manager.RevokeUser] reaches it. Bind at login together with [Session.Rotate].
func (s *Session) SetUser(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.user, s.userSet = user, true
}

// Rotate asks the next commit to move the session to a new token (at
// login, logout or any change of privilege), keeping its values and
// deadlines; the old token stops working then. A session not yet stored
// gets a fresh token anyway.
func (s *Session) Rotate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hash != "" && !s.ended {
		s.rotate = true
	}
}

// Destroy asks the next commit to delete the session; the middleware then
// clears the cookie.
func (s *Session) Destroy() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.destroy = true
	}
}

// IsNew reports whether the session has not been stored yet.
func (s *Session) IsNew() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hash == "" && !s.ended
}

// Token returns the session's token, "" before its first commit and after
// it ended.
func (s *Session) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// Expires returns when the session ends if unused, as of its last load or
// commit; zero before its first commit.
func (s *Session) Expires() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expires
}

// Get returns the value under key decoded from JSON into a T. ok is false
// when the key is absent or its value does not decode as a T.
func Get[T any](s *Session, key string) (v T, ok bool) {
	b, ok := s.GetBytes(key)
	if !ok {
		return v, false
	}
	if err := json.Unmarshal(b, &v); err != nil {
		var zero T
		return zero, false
	}
	return v, true
}

// Set stores v under key, encoded as JSON. It fails only if v cannot be
// encoded.
func Set[T any](s *Session, key string, v T) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("session: set %q: %w", key, err)
	}
	s.SetBytes(key, b)
	return nil
}

// tokenLen is the length of an encoded token: 32 bytes in unpadded base64url.
const tokenLen = 43

// newToken returns a fresh token (256 bits from crypto/rand, base64url) and
// its hash.
func newToken() (token, hash string) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	token = base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256(b[:])
	return token, hex.EncodeToString(sum[:])
}

// decodeToken parses a token from untrusted input: exactly 43 characters of
// canonical unpadded base64url encoding 32 bytes.
func decodeToken(token string) (raw [32]byte, ok bool) {
	if len(token) != tokenLen {
		return raw, false
	}
	n, err := base64.RawURLEncoding.Strict().Decode(raw[:], []byte(token))
	if err != nil || n != len(raw) {
		return [32]byte{}, false
	}
	return raw, true
}

// hashToken returns the store key hash of a token from untrusted input.
func hashToken(token string) (string, bool) {
	raw, ok := decodeToken(token)
	if !ok {
		return "", false
	}
	sum := sha256.Sum256(raw[:])
	return hex.EncodeToString(sum[:]), true
}
