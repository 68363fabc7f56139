package wrangler

import (
	"errors"
	"fmt"
)

// Field is an input of Render and Config (an Options field, the user's configuration, the output
// directory) as errors name it.
type Field string

// The fields errors name.
const (
	FieldMode              Field = "mode"
	FieldWorkerName        Field = "worker name"
	FieldImage             Field = "image"
	FieldInstanceType      Field = "instance type"
	FieldMaxInstances      Field = "max instances"
	FieldInstances         Field = "instances"
	FieldSleepAfter        Field = "sleep after"
	FieldCompatibilityDate Field = "compatibility date"
	FieldVars              Field = "variable"
	FieldUserConfig        Field = "user configuration" // the message starts with its file name instead
	FieldOutDir            Field = "output directory"
	FieldNodeModules       Field = "node_modules"
)

// FieldError is bad input in one field. Its message is Subject (the field's words, or the user
// configuration's file name) followed by Detail, so that a caller can put its own name for the input
// (a flag) in place of Subject without parsing the text.
type FieldError struct {
	Field   Field
	Subject string
	Detail  string // worded to follow Subject: ` "x": use stub or container`, ` is not set: ...`
	Err     error  // the cause, when there is one
}

func (e *FieldError) Error() string { return e.Subject + e.Detail }
func (e *FieldError) Unwrap() error { return e.Err }

// fieldErrorf returns a FieldError about f; format (which may use %w) follows the field's words.
func fieldErrorf(f Field, format string, args ...any) error {
	return subjectErrorf(f, string(f), format, args...)
}

// subjectErrorf is fieldErrorf with another subject (the user configuration's file name).
func subjectErrorf(f Field, subject, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &FieldError{Field: f, Subject: subject, Detail: err.Error(), Err: errors.Unwrap(err)}
}
