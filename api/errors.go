package api

import "errors"

// Error kinds the daemon reports; clients test them with errors.Is on the
// returned *Error.
const (
	KindBadRequest = "bad_request"
	KindNotFound   = "not_found"
	KindEngineDown = "engine_down"
	KindNoImage    = "no_image"
	KindDrift      = "image_drift"
	KindConflict   = "conflict"
	KindRefused    = "refused"
	KindInternal   = "internal"
)

// Error is a failure the daemon reports, with what to do next in Message.
type Error struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Is lets errors.Is(err, &Error{Kind: k}) match on kind.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Kind == e.Kind && t.Message == ""
}

// KindOf returns the kind of an *Error in err's chain, or "".
func KindOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}
