// Package retry is the one retry policy of every request a run makes: to registries, to Fulcio,
// to Rekor and to the OIDC token service. It owns which failures can heal (a status, a network
// error, a deadline), how long to wait before the next try (exponential backoff with full
// jitter, a server's Retry-After), the deadline of each try (the whole exchange, body included,
// with a minimum-progress rule for large transfers), and the backpressure that a rate limit puts
// on every request to the same host, not just the one that met it. It also owns what an answer
// may weigh: a cap a request carries (WithAnswerLimit), and one Budget of the bytes of answers
// every transport of a run holds in memory at once.
//
// Time comes from a Clock, so tests run on a fake one and never wait for real.
package retry
