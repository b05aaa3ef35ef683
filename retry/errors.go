package retry

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Sentinels saying why retrying stopped. The error returned by [Do] and
// [Policy.Do] after a failure is an [*Error] that matches exactly one of them
// (or, when the context ended the call, the context's error) and also the last
// attempt's error, both with [errors.Is] and [errors.As].
var (
	// ErrAttemptsExhausted: the last allowed attempt failed
	// (Options.MaxAttempts).
	ErrAttemptsExhausted = errors.New("retry: attempts exhausted")

	// ErrBudgetExhausted: the shared [Budget] had no token for another
	// retry.
	ErrBudgetExhausted = errors.New("retry: retry budget exhausted")

	// ErrDeadline: the next wait would have ended at or after the context's
	// deadline, or after Options.MaxElapsed; the call returned at once instead
	// of starting it.
	ErrDeadline = errors.New("retry: next attempt would miss the deadline")

	// ErrPermanent: the last error was not retryable: it was wrapped by
	// [Permanent], it was a context error returned by the operation itself,
	// or it was classified permanent (a Permanent() bool method returning
	// true, or Options.Retryable returning false).
	ErrPermanent = errors.New("retry: permanent error")
)

// Error is the error returned when a call fails. It wraps both the reason
// retrying stopped and the last attempt's error, so errors.Is and errors.As
// see through it to either:
//
//	errors.Is(err, retry.ErrAttemptsExhausted) // why it stopped
//	errors.Is(err, io.ErrUnexpectedEOF)        // what the last attempt returned
//	errors.Is(err, context.Canceled)           // when the context ended it
type Error struct {
	// Attempts is the number of attempts made, at least 1.
	Attempts int
	// Reason says why retrying stopped: one of ErrAttemptsExhausted,
	// ErrBudgetExhausted, ErrDeadline, ErrPermanent, or the context's Err()
	// when the context was cancelled or its deadline passed.
	Reason error
	// Last is the error returned by the last attempt, as the operation
	// returned it.
	Last error

	cause error // context.Cause when it differs from Reason, else nil
}

// Error reports the reason, the number of attempts and the last error, as in
// "retry: attempts exhausted after 3 attempts: connection refused".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("retry: ")
	b.WriteString(strings.TrimPrefix(e.Reason.Error(), "retry: "))
	if e.cause != nil {
		b.WriteString(" (")
		b.WriteString(e.cause.Error())
		b.WriteString(")")
	}
	b.WriteString(" after ")
	b.WriteString(strconv.Itoa(e.Attempts))
	if e.Attempts == 1 {
		b.WriteString(" attempt: ")
	} else {
		b.WriteString(" attempts: ")
	}
	b.WriteString(e.Last.Error())
	return b.String()
}

// Unwrap returns the reason, the context's cause when it differs from the
// reason, and the last attempt's error, in that order.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Reason, e.cause, e.Last}
	}
	return []error{e.Reason, e.Last}
}

// Permanent marks err as not worth retrying: a call whose attempt returns it
// (or an error wrapping it) stops at once with ErrPermanent. Options.Retryable
// cannot override it. The result unwraps to err, has the same message, and has
// a Permanent() bool method returning true. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string   { return e.err.Error() }
func (e *permanentError) Unwrap() error   { return e.err }
func (e *permanentError) Permanent() bool { return true }

// After attaches a server hint to err: the wait before the next attempt
// becomes d (capped by Options.MaxDelay, and 0 if d is negative) instead of the
// backoff strategy's delay. Use it for an HTTP Retry-After header or gRPC
// retry pushback. The result unwraps to err, has the same message, and has a
// RetryAfter() time.Duration method; any error type with that method carries a
// hint the same way. After(nil, d) is nil.
func After(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &hintError{err, d}
}

type hintError struct {
	err error
	d   time.Duration
}

func (e *hintError) Error() string             { return e.err.Error() }
func (e *hintError) Unwrap() error             { return e.err }
func (e *hintError) RetryAfter() time.Duration { return e.d }

// traits is what one walk of an error chain finds out.
type traits struct {
	wrapped   bool          // a *permanentError is in the chain
	permanent bool          // some error's Permanent() returned true
	hinted    bool          // some error has RetryAfter()
	hint      time.Duration // the first hint in errors.As order
}

// inspect walks err's tree depth first, in the order errors.As uses.
func inspect(err error) traits {
	var t traits
	t.walk(err)
	return t
}

func (t *traits) walk(err error) {
	for err != nil {
		if _, ok := err.(*permanentError); ok {
			t.wrapped = true
		}
		if p, ok := err.(interface{ Permanent() bool }); ok && p.Permanent() {
			t.permanent = true
		}
		if !t.hinted {
			if h, ok := err.(interface{ RetryAfter() time.Duration }); ok {
				t.hinted, t.hint = true, h.RetryAfter()
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				t.walk(e)
			}
			return
		default:
			return
		}
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
