package pickle

import (
	"errors"
	"fmt"
)

// Errors returned by Load, wrapped with detail.
var (
	// ErrForbidden means the stream names a global that is not allowed.
	ErrForbidden = errors.New("global not allowed")
	// ErrMalformed means the stream is not a valid pickle (truncated, bad
	// opcode, stack misuse, ...).
	ErrMalformed = errors.New("malformed pickle")
	// ErrLimit means the stream exceeds a limit in Options.
	ErrLimit = errors.New("pickle limit exceeded")
)

// ForbiddenError reports a global that the AllowList refuses. It wraps
// ErrForbidden.
type ForbiddenError struct {
	Module string
	Name   string
}

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("%s.%s is not allowed in a model file", e.Module, e.Name)
}

// Unwrap returns ErrForbidden.
func (e *ForbiddenError) Unwrap() error { return ErrForbidden }

// CallFunc builds the value for a call of an allow-listed global: cls is the
// global, args the positional arguments and kwargs the keyword arguments
// (nil unless NEWOBJ_EX gave some).
type CallFunc func(cls Global, args Tuple, kwargs *Dict) (any, error)

// Handler says what an allow-listed global does when the stream calls it. A
// nil Call makes the global a plain reference that cannot be called.
type Handler struct {
	Call CallFunc
}

// Func is a Handler for a Go constructor that takes the positional arguments.
// Keyword arguments are refused.
func Func(fn func(args Tuple) (any, error)) Handler {
	return Handler{Call: func(cls Global, args Tuple, kwargs *Dict) (any, error) {
		if kwargs.Len() > 0 {
			return nil, fmt.Errorf("%w: %s.%s takes no keyword arguments", ErrMalformed, cls.Module, cls.Name)
		}
		return fn(args)
	}}
}

// Class is a Handler for a class without a Go counterpart: a call yields an
// *Object holding the class, its arguments and, after BUILD, its state.
func Class() Handler {
	return Handler{Call: func(cls Global, args Tuple, kwargs *Dict) (any, error) {
		return &Object{Class: cls, Args: args, KwArgs: kwargs}, nil
	}}
}

// Type is a Handler for a global that may only be referenced, never called:
// its value is the Global itself.
func Type() Handler { return Handler{} }

// Stater is implemented by values that take the state of a BUILD opcode
// (Python's __setstate__).
type Stater interface {
	SetState(state any) error
}

// StreamReader is implemented by values that, right after their BUILD, read
// raw bytes that follow in the stream and are replaced by the result
// (joblib's NumpyArrayWrapper).
type StreamReader interface {
	ReadStream(s *Stream) (any, error)
}

// AllowList maps "module.name" to the Handler of each global a stream may
// name. The zero value allows nothing. It is safe for concurrent reads once
// built.
type AllowList struct {
	m map[string]Handler
}

// NewAllowList returns an AllowList holding Python's builtins that pickles
// of plain data need (see Builtins).
func NewAllowList() *AllowList {
	a := &AllowList{}
	Builtins(a)
	return a
}

// Allow adds (or replaces) the handler of module.name.
func (a *AllowList) Allow(module, name string, h Handler) {
	if a.m == nil {
		a.m = make(map[string]Handler)
	}
	a.m[module+"."+name] = h
}

// Lookup returns the handler of module.name, or a *ForbiddenError.
func (a *AllowList) Lookup(module, name string) (Handler, error) {
	if a != nil {
		if h, ok := a.m[module+"."+name]; ok {
			return h, nil
		}
	}
	return Handler{}, &ForbiddenError{Module: module, Name: name}
}

// Call calls the allow-listed global g, as REDUCE and NEWOBJ do.
func (a *AllowList) Call(g Global, args Tuple, kwargs *Dict) (any, error) {
	h, err := a.Lookup(g.Module, g.Name)
	if err != nil {
		return nil, err
	}
	if h.Call == nil {
		return nil, fmt.Errorf("%w: %s.%s cannot be called", ErrForbidden, g.Module, g.Name)
	}
	return h.Call(g, args, kwargs)
}
