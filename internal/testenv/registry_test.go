package testenv

import (
	"net/http"
	"testing"
)

func TestRegistryAnswers(t *testing.T) {
	t.Parallel()
	host := Registry(t)
	resp, err := http.Get("http://" + host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusOK; got != want {
		t.Fatalf("GET /v2/ = %d, want %d", got, want)
	}
}
