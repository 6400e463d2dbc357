package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/krellin/krellin/actions"
	"github.com/krellin/krellin/api"
	"github.com/krellin/krellin/termsafe"
)

// printReasons prints what led to an action and, for a conversation or
// a terminal session, what it held: the parts of a detail that explain
// an agent's work.
func (a *app) printReasons(d api.Detail) {
	if d.Why != "" {
		fmt.Fprintln(a.stdout, "\n--- why ---")
		fmt.Fprintln(a.stdout, termsafe.Text(d.Why))
	}
	switch d.Action.Action {
	case actions.Ask:
		fmt.Fprintln(a.stdout, "\n--- conversation ---")
		fmt.Fprintln(a.stdout, termsafe.Text(string(d.Input)))
	case actions.Shell:
		fmt.Fprintf(a.stdout, "\n--- terminal (asciicast v2, %d bytes; `krellin show --cast %d > s.cast` saves it for asciinema) ---\n",
			len(d.Input), d.Action.Seq)
		fmt.Fprint(a.stdout, termsafe.Text(castText(d.Input)))
	}
}

// castText is what a recorded terminal showed, as plain text: the
// output events of an asciicast joined.
func castText(cast []byte) string {
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(cast))
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	sc.Scan() // the header
	for sc.Scan() {
		var ev []json.RawMessage
		var code, data string
		if json.Unmarshal(sc.Bytes(), &ev) != nil || len(ev) != 3 ||
			json.Unmarshal(ev[1], &code) != nil || json.Unmarshal(ev[2], &data) != nil || code != "o" {
			continue
		}
		b.WriteString(data)
	}
	if b.Len() > 0 && b.Bytes()[b.Len()-1] != '\n' {
		b.WriteByte('\n')
	}
	return b.String()
}

// writeCast prints a terminal session's recording exactly.
func (a *app) writeCast(d api.Detail) error {
	if d.Action.Action != actions.Shell {
		return &ExitError{Code: exitUsage, Err: fmt.Errorf("action %d is a %s, not a terminal session; --cast applies to shell and agent sessions", d.Action.Seq, d.Action.Action)}
	}
	_, err := a.stdout.Write(d.Input)
	return err
}
