package testenv

// Errors flattens an error tree built with errors.Join (or any error with Unwrap() []error) into
// its leaves, so a test can count and read the problems a function reported at once.
func Errors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Errors(e)...)
		}
		return out
	}
	return []error{err}
}
