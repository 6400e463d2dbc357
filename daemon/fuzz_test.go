package daemon

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/krellin/krellin/actions"
	"github.com/krellin/krellin/api"
)

// FuzzDecodeAction feeds arbitrary bodies through the API's request
// decoding and validation: they must be refused cleanly, never panic.
func FuzzDecodeAction(f *testing.F) {
	for _, seed := range []string{
		`{"repo":"/r","kind":"run","argv":["true"]}`,
		`{"repo":"/r","kind":"write","path":"a","input":"aGk="}`,
		`{"repo":"/r","kind":"reset","to_seq":-1}`,
		`{"kind":"run","argv":[],"timeout_ms":-5}`,
		`{"kind":"fetch","argv":["x"],"workdir":"../../etc"}`,
		`{"kind":"run","argv":["x"],"env":["=x","NOEQ"]}`,
		`{"kind":"patch","input":null}`, `[]`, `{`, `null`, `{"kind":7}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/v1/actions", bytes.NewReader(body))
		var req api.ActionRequest
		if !decode(w, r, &req) {
			if w.Code != http.StatusBadRequest {
				t.Fatalf("refused body answered %d, want 400", w.Code)
			}
			return
		}
		if err := actions.Check(requestOf(req)); err != nil {
			if e := toError(err); e.Kind != api.KindBadRequest {
				t.Fatalf("invalid request classified %q, want %q: %v", e.Kind, api.KindBadRequest, err)
			}
		}
	})
}
