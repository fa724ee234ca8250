package e2e

import "errors"

func errAs[T error](err error, target *T) bool { return errors.As(err, target) }
